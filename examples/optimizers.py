"""One network, four optimizers from the notes: SGD, momentum, the notes' Adagrad, Adam.

Trains a 64-64-10 sigmoid network on the bundled digits (scikit-learn) with each
optimizer from the same initial parameters and prints the training loss per epoch
side by side; with matplotlib installed it also draws the curves to examples/output/optimizers.png.
"""

from pathlib import Path

import jax

import fnnet
from fnnet import data, losses, optim, plots

OPTIMIZERS = {
    "sgd (eta 0.1)": optim.sgd(0.1),
    "momentum (eta 0.1, lambda 0.9)": optim.momentum(0.1, 0.9),
    "adagrad, notes' form (eta 0.1)": optim.adagrad(0.1),
    "adam (eta 1e-3)": optim.adam(1e-3),
}


OUTPUT = Path(__file__).parent / "output"


def main(epochs: int = 20, plot: bool = True):
    x, y = data.digits()
    (x_train, y_train), _, _ = data.train_val_test_split(x, y, val=0.0, test=0.2, seed=0)
    x_train = data.Standardizer.fit(x_train).apply(x_train)
    net = fnnet.mlp([64, 64, 10], activation="sigmoid")
    params = net.init(jax.random.key(0))
    curves = {}
    for name, optimizer in OPTIMIZERS.items():
        result = fnnet.fit(net, losses.cross_entropy(from_logits=True), optimizer, params,
                           (x_train, y_train), key=jax.random.key(1), epochs=epochs, batch_size=32)
        curves[name] = [h["loss"] for h in result.history]
    names = list(curves)
    print("epoch " + "".join(f"{n[:18]:>20}" for n in names))
    for e in range(epochs):
        print(f"{e + 1:>5} " + "".join(f"{curves[n][e]:>20.4f}" for n in names))
    if plot:
        plots.optional(plots.curves, curves, OUTPUT / "optimizers.png", xlabel="epoch",
                       ylabel="training loss (cross-entropy)", title="64-64-10 sigmoid network on digits", logy=True)
    return curves


if __name__ == "__main__":
    main()
