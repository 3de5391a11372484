"""The notes' designed structure: a convolutional network against the best fully
connected network of similar size, on the same data, with a control.

The data: signals of 40 positions holding one of four motifs at a random position in
noise (``fnnet.data.motifs``; a motif is 7 values of ±2). A convolution slides one
detector over every position, so it learns a motif once; a fully connected layer must
learn it at every position. The control shuffles every signal's positions by one fixed
permutation: a fully connected network has no notion of order, so its problem does not
change, while the convolution loses the neighbourhoods it relies on.

The networks (ReLU, Adam 1e-3, batch 32, early stopping on the validation loss):
  CNN  Conv1D(16, 5) -> MaxPool1D(2) -> Conv1D(32, 5) -> MaxPool1D(2) -> Flatten -> Dropout -> Dense(4)
  FC   the best by validation accuracy of fully connected nets between half and twice the
       CNN's parameters (one or two hidden layers, dropout 0 or 0.2)

Prints one table (parameters, validation and test accuracy of each network on the
ordered and on the shuffled signals) and, with matplotlib, draws the validation accuracy
per epoch to examples/output/cnn.png.

    python examples/cnn.py
"""

from pathlib import Path

import jax

import fnnet
from fnnet import Conv1D, Dense, Dropout, Flatten, MaxPool1D, Network, data, losses, optim, plots

OUTPUT = Path(__file__).parent / "output"
LENGTH, CLASSES = 40, 4
CNN = Network((LENGTH, 1), (Conv1D(16, 5, "relu", padding="SAME"), MaxPool1D(2),
                            Conv1D(32, 5, "relu", padding="SAME"), MaxPool1D(2), Flatten(), Dropout(0.2),
                            Dense(CLASSES)))
#: Fully connected nets from half to twice the CNN's parameters (which main checks).
FC = [fnnet.mlp([(LENGTH, 1), *hidden, CLASSES], dropout=dropout)
      for hidden in ((48,), (96,), (160,), (64, 32), (80, 40)) for dropout in (0.0, 0.2)]


def size(net) -> int:
    """The network's weights and biases."""
    return sum(leaf.size for leaf in jax.tree.leaves(jax.eval_shape(net.init, jax.random.key(0))))


def train(net, splits, epochs, seed=0):
    """``(validation accuracy, test accuracy, validation accuracy per epoch)`` of net trained on splits."""
    loss = losses.cross_entropy(from_logits=True)
    result = fnnet.fit(net, loss, optim.adam(1e-3), net.init(jax.random.key(seed)), splits["train"],
                       key=jax.random.key(seed + 1), epochs=epochs, batch_size=32, validation_data=splits["val"],
                       early_stopping=fnnet.EarlyStopping(patience=10))
    scores = [fnnet.evaluate(net, loss, result.params, splits[k])["accuracy"] for k in ("val", "test")]
    return scores[0], scores[1], [h["val_accuracy"] for h in result.history]


def main(n: int = 3000, epochs: int = 60, plot: bool = True, fc=None):
    """Train the CNN and every fully connected candidate (``fc``, default ``FC``) on the
    ordered and the shuffled signals; returns ``{data: {"cnn": row, "fc": row}}`` with
    each row's network, params, val and test accuracy."""
    fc = FC if fc is None else fc
    cnn_size = size(CNN)
    assert all(cnn_size / 2 <= size(net) <= 2 * cnn_size for net in fc), "candidates of similar size only"
    table, curves = {}, {}
    for name, shuffled in (("ordered", False), ("shuffled", True)):
        x, y = data.motifs(n, length=LENGTH, classes=CLASSES, shuffled=shuffled)
        tr, va, te = data.train_val_test_split(x, y, val=0.2, test=0.2, seed=0)
        splits = {"train": tr, "val": va, "test": te}
        val, test, curve = train(CNN, splits, epochs)
        rows = {"cnn": {"network": "CNN", "params": cnn_size, "val": val, "test": test}}
        curves[f"CNN, {name}"] = curve
        best = None
        for net in fc:
            val, test, curve = train(net, splits, epochs)
            if best is None or val > best[0]["val"]:
                best = ({"network": _describe(net), "params": size(net), "val": val, "test": test}, curve)
        rows["fc"] = best[0]
        curves[f"best FC, {name}"] = best[1]
        table[name] = rows
    print(f"{n} signals of {LENGTH} positions, {CLASSES} motifs at random positions; test accuracy on "
          f"{len(te[0])} of them (the best fully connected net of {len(fc)} chosen by validation accuracy)")
    print(f"{'data':<10}{'network':<28}{'params':>8}{'val':>9}{'test':>9}")
    for name, rows in table.items():
        for row in rows.values():
            print(f"{name:<10}{row['network']:<28}{row['params']:>8,}{row['val']:>9.2%}{row['test']:>9.2%}")
    if plot:
        plots.optional(plots.curves, curves, OUTPUT / "cnn.png", xlabel="epoch", ylabel="validation accuracy",
                       title="convolutions vs fully connected, ordered and shuffled positions")
    return table


def _describe(net) -> str:
    widths = [layer.features for layer in net.layers if isinstance(layer, Dense)][:-1]
    dropout = next((layer.rate for layer in net.layers if isinstance(layer, Dropout)), 0.0)
    return f"FC {'-'.join(map(str, widths))}" + (f", dropout {dropout}" if dropout else "")


if __name__ == "__main__":
    main()
