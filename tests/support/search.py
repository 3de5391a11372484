"""What the structure search's tests share: one small space, population and budget, so
that their compiled programs are shared, and a candidate that learns little."""

from fnnet.structure.space import Candidate, SearchSpace

SPACE = SearchSpace(depth=(1, 1), width=(2, 8), activations=("sigmoid", "tanh", "relu", "leaky_relu"), kinds=("dense",))
SMALL = dict(population=4, epochs=2)
BAD = Candidate((2,), "sigmoid", 0.0, "sgd", 1e-4, 0.0)
