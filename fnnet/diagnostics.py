"""Diagnostics from the notes' "Recipe of Deep Learning".

First ask whether the network is good on its *training* data. If not, the remedy is in
training itself: a different activation (sigmoid layers pass back ever smaller
gradients, the vanishing-gradient problem; ReLU or maxout do not), an adaptive learning
rate (Adagrad, Adam) or momentum. Only if it is good on training data but poor on
validation data is it overfitting: early stopping, regularization (L2/L1), dropout.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp

from fnnet.model import losses as losses_
from fnnet.model.layers.conv import Convolution
from fnnet.model.layers.dense import Dense
from fnnet.model.network import Network


def gradient_norms(net: Network, loss, params, x, t) -> list[float | None]:
    """``‖∂L/∂W_l‖`` (Frobenius) for each layer l, inference mode; None for layers without
    weights. Small norms near the input and large ones near the output are the notes'
    vanishing gradients."""
    norms = _gradient_norms(net, losses_.get(loss))(params, x, t)
    return [None if n is None else float(n) for n in norms]


@functools.lru_cache(maxsize=32)
def _gradient_norms(net, loss):
    def norms(params, x, t):
        grads = jax.grad(lambda p: loss(net.apply(p, x), t))(params)
        return [jnp.linalg.norm(g["w"].ravel()) if "w" in g else None for g in grads]

    return jax.jit(norms)


def dead_units(net: Network, params, x) -> list[float | None]:
    """For each ReLU layer (Dense or a convolution), the fraction of its units (a
    convolution's: its channels) that output 0 on every example of x and everywhere in it
    (they pass back no gradient, so they cannot learn); None for other layers."""
    fractions = _dead_units(net)(params, x)
    return [None if f is None else float(f) for f in fractions]


@functools.lru_cache(maxsize=32)
def _dead_units(net):
    def fractions(params, x):
        _, caches = net.forward_with_cache(params, x)
        return [jnp.mean(jnp.all(cache.a <= 0, axis=tuple(range(cache.a.ndim - 1))))
                if isinstance(layer, (Dense, Convolution)) and layer.activation == "relu" else None
                for layer, cache in zip(net.layers, caches)]

    return jax.jit(fractions)


@dataclass(frozen=True)
class Diagnosis:
    verdict: str  # "poor on training data" | "overfitting" | "good"
    advice: tuple[str, ...]
    evidence: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        lines = [f"diagnosis: {self.verdict}"]
        lines += [f"  - {a}" for a in self.advice]
        lines += [f"  ({e})" for e in self.evidence]
        return "\n".join(lines)


def diagnose(train_accuracy: float, val_accuracy: float | None = None, *,
             grad_norms: list | None = None, dead: list | None = None,
             good_train: float = 0.95, max_gap: float = 0.05) -> Diagnosis:
    """The notes' recipe: below ``good_train`` accuracy on the training data -> fix
    training; a validation accuracy more than ``max_gap`` below it -> fix overfitting."""
    evidence = []
    norms = [n for n in (grad_norms or []) if n is not None]
    if len(norms) >= 2 and norms[-1] > 0:
        evidence.append(f"gradient norm, first weight layer / last: {norms[0] / norms[-1]:.2g}")
    dead_fracs = [d for d in (dead or []) if d is not None]
    if dead_fracs:
        evidence.append(f"dead ReLU units: up to {max(dead_fracs):.0%} of a layer")
    if train_accuracy < good_train:
        advice = ["try a different activation: sigmoid layers shrink the gradient on the way "
                  "back (vanishing gradients); ReLU or maxout do not",
                  "try an adaptive learning rate (--optimizer adagrad or adam) or momentum",
                  "train longer or with a larger learning rate"]
        if len(norms) >= 2 and norms[-1] > 0 and norms[0] / norms[-1] < 1e-2:
            advice.insert(0, "the first layers get under 1% of the last layer's gradient: "
                             "vanishing gradients")
        if dead_fracs and max(dead_fracs) > 0.5:
            advice.insert(0, "over half the units of a ReLU layer are dead: lower the learning "
                             "rate, or use leaky_relu or maxout")
        return Diagnosis(f"poor on training data (accuracy {train_accuracy:.1%} < {good_train:.0%})",
                         tuple(advice), tuple(evidence))
    if val_accuracy is not None and train_accuracy - val_accuracy > max_gap:
        return Diagnosis(
            f"overfitting (training {train_accuracy:.1%}, validation {val_accuracy:.1%})",
            ("stop early (--patience)", "regularize: L2 (--l2) or L1 (--l1)",
             "add dropout (--dropout)", "get more training data"), tuple(evidence))
    shown = "" if val_accuracy is None else f", validation {val_accuracy:.1%}"
    return Diagnosis(f"good (training {train_accuracy:.1%}{shown})",
                     ("nothing to fix; try the test data",), tuple(evidence))
