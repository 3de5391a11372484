"""Maxout, the notes' learnable activation, against ReLU on the digits.

Each maxout unit is the max of k linear pieces, so it learns its own piecewise-linear
activation (ReLU is the special case max(z, 0)). Trains 64-128-10 networks with ReLU
and with maxout (2 and 4 pieces), prints test accuracy and how often each piece wins
(every piece is used: none is dead), and draws the learning curves to
examples/output/maxout.png.
"""

from pathlib import Path

import jax
import jax.numpy as jnp

from fnnet import Dense, Maxout, Network, data, evaluate, fit, losses, optim, plots

OUTPUT = Path(__file__).parent / "output"


def main(epochs: int = 30, plot: bool = True):
    x, y = data.digits()
    tr, va, te = data.train_val_test_split(x, y, val=0.15, test=0.2, seed=0)
    std = data.Standardizer.fit(tr[0])
    tr, va, te = [(std.apply(a), b) for a, b in (tr, va, te)]
    loss = losses.cross_entropy(from_logits=True)
    nets = {"relu": Network(64, (Dense(128, "relu"), Dense(10))),
            "maxout, 2 pieces": Network(64, (Maxout(128, 2), Dense(10))),
            "maxout, 4 pieces": Network(64, (Maxout(128, 4), Dense(10)))}
    results, curves = {}, {}
    for name, net in nets.items():
        r = fit(net, loss, optim.adam(1e-3), net.init(jax.random.key(0)), tr,
                key=jax.random.key(1), epochs=epochs, batch_size=32, validation_data=va)
        results[name] = evaluate(net, loss, r.params, te)["accuracy"]
        curves[name] = [h["val_loss"] for h in r.history]
        print(f"{name:<18} test accuracy {results[name]:.2%}")
        if isinstance(net.layers[0], Maxout):
            _, caches = net.forward_with_cache(r.params, te[0])
            wins = jnp.bincount(caches[0].winner.ravel(), length=net.layers[0].pieces)
            share = ", ".join(f"{float(w) / float(wins.sum()):.0%}" for w in wins)
            print(f"{'':<18} share of wins per piece: {share}")
    if plot:
        plots.optional(plots.curves, curves, OUTPUT / "maxout.png", xlabel="epoch", ylabel="validation loss",
                       title="ReLU vs maxout on digits", logy=True)
    return results


if __name__ == "__main__":
    main()
