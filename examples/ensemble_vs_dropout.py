"""Dropout as "a kind of ensemble" (the notes), against an explicit one.

On the digits, 64-256-10 ReLU networks, Adam, the same epochs for all: an ensemble of N
networks trained at once (``fnnet.fit_many``, seeds 0..N-1; its prediction is
the mean of the members' probabilities), one network with dropout 0.5 (each update
trains a random thinned network; at test time the whole one stands for their average),
and one plain network (member 0 trained alone by ``fit``: the same seed, so the same
accuracy to round-off). Prints each member's test accuracy, their mean, the ensemble's,
dropout's and the plain network's, and draws the validation accuracy per epoch to
examples/output/ensemble_vs_dropout.png.
"""

from pathlib import Path

import jax
import jax.numpy as jnp

import fnnet
from fnnet import data, losses, optim, plots

OUTPUT = Path(__file__).parent / "output"
WIDTHS = [64, 256, 10]


def main(epochs: int = 40, members: int = 8, plot: bool = True, rate: float = 0.5):
    x, y = data.digits()
    tr, va, te = data.train_val_test_split(x, y, val=0.15, test=0.2, seed=0)
    std = data.Standardizer.fit(tr[0])  # training statistics only
    tr, va, te = [(std.apply(a), b) for a, b in (tr, va, te)]
    loss, adam = losses.cross_entropy(from_logits=True), optim.adam(1e-3)
    common = dict(epochs=epochs, batch_size=32, validation_data=va)

    # Member i is the plain network below with seed i: init from key(i), run key fold_in(key(i), 1).
    net = fnnet.mlp(WIDTHS, activation="relu")
    seeds = [jax.random.key(i) for i in range(members)]
    params = jax.tree.map(lambda *leaves: jnp.stack(leaves), *[net.init(k) for k in seeds])
    keys = jnp.stack([jax.random.fold_in(k, 1) for k in seeds])
    many = fnnet.fit_many(net, loss, adam, params, tr, keys=keys, **common)
    member_acc = [fnnet.evaluate(net, loss, p, te)["accuracy"] for p in fnnet.unstack(many.params)]

    table = {f"member {i}": acc for i, acc in enumerate(member_acc)}
    table["mean of members"] = sum(member_acc) / members
    table[f"ensemble of {members}"] = fnnet.ensemble_accuracy(net, many.params, *te)
    curves = {"members (mean)": [sum(h[e]["val_accuracy"] for h in many.histories) / members
                                 for e in range(epochs)]}
    for name, dropout in ((f"dropout {rate}", rate), ("plain", 0.0)):
        one = fnnet.mlp(WIDTHS, activation="relu", dropout=dropout)
        result = fnnet.fit(one, loss, adam, one.init(seeds[0]), tr, key=jax.random.fold_in(seeds[0], 1), **common)
        table[name] = fnnet.evaluate(one, loss, result.params, te)["accuracy"]
        curves[name] = [h["val_accuracy"] for h in result.history]

    print(f"test accuracy on {len(te[0])} digits after {epochs} epochs (64-256-10 ReLU, Adam)")
    for name, acc in table.items():
        print(f"{name:<18}{acc:>8.2%}")
    if plot:
        plots.optional(plots.curves, curves, OUTPUT / "ensemble_vs_dropout.png", xlabel="epoch",
                       ylabel="validation accuracy",
                       title=f"ensemble of {members}: test {table[f'ensemble of {members}']:.1%}")
    return table


if __name__ == "__main__":
    main()
