"""The notes' vanishing-gradient argument, measured.

An 8-layer sigmoid network and the same network with ReLU, on the digits: the norm of
∂L/∂W for each layer at initialisation and after a few epochs of SGD. Through sigmoid
layers (σ' ≤ 1/4) the gradient shrinks layer by layer on its way back to the input;
through ReLU layers it does not. Draws examples/output/vanishing_gradients.png.
"""

from pathlib import Path

import jax

import fnnet
from fnnet import data, diagnostics, losses, optim, plots

OUTPUT = Path(__file__).parent / "output"
DEPTH, WIDTH = 8, 32


def main(epochs: int = 10, plot: bool = True):
    x, y = data.digits()
    (x, y), _, _ = data.train_val_test_split(x, y, val=0.0, test=0.2, seed=0)
    x = data.Standardizer.fit(x).apply(x)
    loss = losses.cross_entropy(from_logits=True)
    norms = {}
    for activation in ("sigmoid", "relu"):
        net = fnnet.mlp([64] + [WIDTH] * DEPTH + [10], activation=activation)
        params = net.init(jax.random.key(0))
        norms[f"{activation}, initial"] = diagnostics.gradient_norms(net, loss, params, x, y)
        result = fnnet.fit(net, loss, optim.sgd(0.1), params, (x, y), key=jax.random.key(1),
                           epochs=epochs, batch_size=32)
        norms[f"{activation}, after {epochs} epochs"] = diagnostics.gradient_norms(
            net, loss, result.params, x, y)
        print(f"{activation}: training accuracy after {epochs} epochs "
              f"{result.history[-1]['accuracy']:.1%}")
    print("\n‖∂L/∂W_l‖ per layer (layer 1 is next to the input)")
    print("layer " + "".join(f"{name:>26}" for name in norms))
    for layer in range(DEPTH + 1):
        print(f"{layer + 1:>5} " + "".join(f"{n[layer]:>26.2e}" for n in norms.values()))
    for name, n in norms.items():
        print(f"{name}: first layer / last layer = {n[0] / n[-1]:.1e}")
    if plot:
        plots.optional(plots.curves, norms, OUTPUT / "vanishing_gradients.png", xlabel="layer (1 = input side)",
                       ylabel="‖∂L/∂W‖", title=f"{DEPTH} hidden layers of {WIDTH}", logy=True)
    return norms


if __name__ == "__main__":
    main()
