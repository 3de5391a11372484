"""Overfitting and the notes' remedies, side by side.

A 64-256-256-10 ReLU network on only 300 training digits, trained long enough to
overfit (Adam), with: nothing; L2 (adds λw to the gradient); L1 (adds λ sgn w);
dropout; early stopping on a validation split. Prints train/test accuracy and draws the
validation accuracy per epoch to examples/output/regularization.png.
"""

from pathlib import Path

import jax
import optax

import fnnet
from fnnet import data, losses, optim, plots

OUTPUT = Path(__file__).parent / "output"
ETA = 1e-3


def variants():
    sgd = optim.adam(ETA)
    return {
        "none": (0.0, sgd, None),
        "L2 (lambda 1e-2)": (0.0, optax.chain(optim.l2(1e-2), sgd), None),
        "L1 (lambda 1e-3)": (0.0, optax.chain(optim.l1(1e-3), sgd), None),
        "dropout 0.5": (0.5, sgd, None),
        "early stopping": (0.0, sgd, fnnet.EarlyStopping(monitor="val_loss", patience=5)),
    }


def main(epochs: int = 150, plot: bool = True, n_train: int = 300):
    x, y = data.digits()
    tr, va, te = data.train_val_test_split(x, y, val=0.15, test=0.3, seed=0)
    tr = (tr[0][:n_train], tr[1][:n_train])
    std = data.Standardizer.fit(tr[0])
    tr, va, te = [(std.apply(a), b) for a, b in (tr, va, te)]
    loss = losses.cross_entropy(from_logits=True)
    table, curves = {}, {}
    for name, (dropout, optimizer, stopper) in variants().items():
        net = fnnet.mlp([64, 256, 256, 10], activation="relu", dropout=dropout)
        result = fnnet.fit(net, loss, optimizer, net.init(jax.random.key(0)), tr,
                           key=jax.random.key(1), epochs=epochs, batch_size=32,
                           validation_data=va, early_stopping=stopper)
        table[name] = {split: fnnet.evaluate(net, loss, result.params, d)["accuracy"]
                       for split, d in (("train", tr), ("test", te))}
        table[name]["epochs"] = len(result.history)
        curves[name] = [h["val_accuracy"] for h in result.history]
    print(f"{n_train} training examples, up to {epochs} epochs")
    print(f"{'':<18}{'train':>8}{'test':>8}{'epochs':>8}")
    for name, row in table.items():
        print(f"{name:<18}{row['train']:>8.1%}{row['test']:>8.1%}{row['epochs']:>8}")
    if plot:
        plots.optional(plots.curves, curves, OUTPUT / "regularization.png", xlabel="epoch",
                       ylabel="validation accuracy", title=f"{n_train} training digits")
    return table


if __name__ == "__main__":
    main()
