"""The notes' example application: recognise handwritten digits.

scikit-learn's bundled digits (8×8 = 64 inputs, 10 classes), standardised on the
training split, a 64-256-10 ReLU network with dropout, Adam, early stopping on the
validation loss. Prints train/validation/test accuracy and draws the learning curves
and the first-layer weights as 8×8 images (what each hidden unit looks for) to
examples/output/.
"""

from pathlib import Path

import jax

import fnnet
from fnnet import data, losses, optim, plots

OUTPUT = Path(__file__).parent / "output"


def main(epochs: int = 60, plot: bool = True, seed: int = 0):
    x, y = data.digits()
    tr, va, te = data.train_val_test_split(x, y, val=0.15, test=0.2, seed=seed)
    std = data.Standardizer.fit(tr[0])  # training statistics only
    tr, va, te = [(std.apply(a), b) for a, b in (tr, va, te)]
    net = fnnet.mlp([64, 256, 10], activation="relu", dropout=0.2)
    loss = losses.cross_entropy(from_logits=True)
    result = fnnet.fit(net, loss, optim.adam(1e-3), net.init(jax.random.key(seed)), tr,
                       key=jax.random.key(seed + 1), epochs=epochs, batch_size=32,
                       validation_data=va, early_stopping=fnnet.EarlyStopping(patience=10))
    scores = {name: fnnet.evaluate(net, loss, result.params, split)
              for name, split in (("train", tr), ("validation", va), ("test", te))}
    for name, m in scores.items():
        print(f"{name:<11} loss {m['loss']:.4f}  accuracy {m['accuracy']:.2%}")
    print(f"best epoch {result.best_epoch} of {len(result.history)}")
    if plot:
        plots.optional(plots.learning_curves, result.history, OUTPUT / "digits_curves.png",
                       title="64-256-10 ReLU on digits")
        plots.optional(plots.weight_images, result.params[0]["w"][:, :32], OUTPUT / "digits_first_layer.png",
                       shape=(8, 8), title="first-layer weights of 32 hidden units")
    return scores, result


if __name__ == "__main__":
    main()
