"""The model: activations and initializers, the layers, the network (a frozen description
with a pure ``apply``), the losses and the hand-written backward pass. Nothing here
knows about training; the public names are in ``fnnet``'s face."""
