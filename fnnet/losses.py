"""Losses with their derivatives: the notes' squared error and cross-entropy.

Per example ``n`` the loss is ``C^n``; the reduction gives the total loss
``L = Σ_n w_n C^n`` ("sum", the notes' ``L = Σ_n C^n``) or the weighted mean
``L = Σ_n w_n C^n / Σ_n w_n`` ("mean"), with example weights ``w_n`` = 1 unless given
(fnnet uses 0 to mask padding). ``loss.grad(y, t)`` is ``∂L/∂y``, the start of the
hand-written backward pass.

Targets ``t`` are one-hot (or any distribution / regression target) of the output's
shape, or integer class labels of the output's shape without its last axis (for a
single output unit, the label is the 0/1 target itself).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

REDUCTIONS = ("sum", "mean")


def targets_like(y, t):
    """``t`` as a float array of ``y``'s shape: integer labels are one-hot encoded."""
    t = jnp.asarray(t)
    y_shape = tuple(jnp.shape(y))
    if jnp.issubdtype(t.dtype, jnp.integer) or t.dtype == jnp.bool_:
        if t.dtype != jnp.bool_ and tuple(t.shape) == y_shape[:-1]:
            classes = 2 if y_shape[-1] == 1 else y_shape[-1]
            _check_label_range(t, classes)
            if y_shape[-1] == 1:  # a single output unit: the label is the target value (0 or 1)
                target = t[..., None].astype(y.dtype)
            else:
                target = jax.nn.one_hot(t, y_shape[-1], dtype=y.dtype)
            if isinstance(t, jax.core.Tracer):
                # Traced labels cannot be looked at: one out of range makes the loss NaN
                # (one_hot alone would give a zero row, and a plausible, wrong loss).
                target = jnp.where(((t < 0) | (t >= classes))[..., None], jnp.nan, target)
            return target
        if t.dtype == jnp.bool_ and tuple(t.shape) == y_shape:
            return t.astype(y.dtype)
    elif tuple(t.shape) == y_shape:
        return t.astype(y.dtype)
    raise ValueError(f"targets: expected one-hot/float targets of shape {y_shape} or integer labels "
                     f"of shape {y_shape[:-1]}, got {t.dtype} of shape {tuple(t.shape)}")


def _check_label_range(t, classes: int) -> None:
    # one_hot maps an out-of-range label to a zero row, a silently wrong loss.
    if isinstance(t, jax.core.Tracer) or t.size == 0:
        return
    values = np.asarray(t)
    low, high = int(values.min()), int(values.max())
    if low < 0 or high >= classes:
        raise ValueError(f"targets: expected integer labels in [0, {classes}), got values in [{low}, {high}]")


def _weights(y, weights):
    n = y.shape[0] if y.ndim == 2 else 1
    if weights is None:
        return None
    weights = jnp.asarray(weights, dtype=y.dtype)
    if weights.shape != ((n,) if y.ndim == 2 else ()):
        raise ValueError(f"weights: expected shape {((n,) if y.ndim == 2 else ())}, got {tuple(weights.shape)}")
    return weights


def _check_reduction(name, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: unknown reduction {reduction!r}; expected one of {list(REDUCTIONS)}")


@dataclass(frozen=True)
class _Loss:
    reduction: str = "mean"

    def __post_init__(self):
        _check_reduction(type(self).__name__, self.reduction)

    def per_example(self, y, t):
        """``C^n`` for each example: (batch, out) -> (batch,), or (out,) -> ()."""
        raise NotImplementedError

    def _dc_dy(self, y, t):
        """``∂C^n/∂y^n`` of the same shape as y."""
        raise NotImplementedError

    def _norm(self, y, weights):
        if self.reduction == "sum":
            return jnp.ones((), y.dtype)
        if weights is None:
            return jnp.asarray(y.shape[0] if y.ndim == 2 else 1, y.dtype)
        return jnp.sum(weights)

    def __call__(self, y, t, weights=None):
        """The total loss L (a scalar) of outputs ``y`` against targets ``t``."""
        t = targets_like(y, t)
        weights = _weights(y, weights)
        c = self.per_example(y, t)
        total = jnp.sum(c if weights is None else c * weights)
        return total / self._norm(y, weights)

    def _scale(self, y, weights):
        """∂L/∂C^n for each example, shaped to multiply (batch, out) or (out,) arrays."""
        norm = self._norm(y, weights)
        if weights is None:
            return 1 / norm
        return (weights / norm)[:, None] if y.ndim == 2 else weights / norm

    def grad(self, y, t, weights=None):
        """``∂L/∂y``, same shape as ``y``."""
        t = targets_like(y, t)
        return self._dc_dy(y, t) * self._scale(y, _weights(y, weights))


@dataclass(frozen=True)
class SquaredError(_Loss):
    """The notes' ``C = Σ_k ½ (t_k − y_k)²``, with ``∂C/∂y = y − t``."""

    name = "squared_error"

    def per_example(self, y, t):
        return 0.5 * jnp.sum((t - y) ** 2, axis=-1)

    def _dc_dy(self, y, t):
        return y - t


@dataclass(frozen=True)
class CrossEntropy(_Loss):
    """The notes' ``C = −Σ_k t_k ln y_k`` on probabilities y (``∂C/∂y = −t / y``), or with
    ``from_logits=True`` on logits z, computed stably as ``−Σ_k t_k log_softmax(z)_k``
    (``∂C/∂z = softmax(z) Σ_k t_k − t``)."""

    from_logits: bool = False
    name = "cross_entropy"

    def per_example(self, y, t):
        if self.from_logits:
            return -jnp.sum(t * jax.nn.log_softmax(y, axis=-1), axis=-1)
        # 0 · ln 0 = 0: classes with t = 0 contribute nothing even where y underflows.
        safe_y = jnp.where(t != 0, y, jnp.ones_like(y))
        return -jnp.sum(t * jnp.log(safe_y), axis=-1)

    def _dc_dy(self, y, t):
        if self.from_logits:
            return jax.nn.softmax(y, axis=-1) * jnp.sum(t, axis=-1, keepdims=True) - t
        safe_y = jnp.where(t != 0, y, jnp.ones_like(y))
        return -t / safe_y

    def softmax_delta(self, y, t, weights=None):
        """``∂L/∂z`` for ``y = softmax(z)`` fed to this loss on probabilities, fused:
        ``δ = (y Σ_k t_k − t) ∂L/∂C^n``, with no division by y."""
        t = targets_like(y, t)
        delta = y * jnp.sum(t, axis=-1, keepdims=True) - t
        return delta * self._scale(y, _weights(y, weights))


LOSSES = {
    "squared_error": lambda reduction: SquaredError(reduction),
    "cross_entropy": lambda reduction: CrossEntropy(reduction),
    "cross_entropy_logits": lambda reduction: CrossEntropy(reduction, from_logits=True),
}


def squared_error(reduction: str = "mean") -> SquaredError:
    """``C = Σ_k ½ (t_k − y_k)²`` reduced over the batch by ``reduction``."""
    return SquaredError(reduction)


def cross_entropy(reduction: str = "mean", *, from_logits: bool = False) -> CrossEntropy:
    """``C = −Σ_k t_k ln y_k`` (y probabilities) or its stable from-logits form."""
    return CrossEntropy(reduction, from_logits=from_logits)


def get(name, reduction: str = "mean"):
    """A loss by name ("squared_error", "cross_entropy", "cross_entropy_logits"), or a loss
    object passed through; a ValueError lists the valid names."""
    if isinstance(name, _Loss) or (callable(name) and not isinstance(name, str)):
        return name
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; expected one of {sorted(LOSSES)}")
    return LOSSES[name](reduction)


def accuracy(y, t, weights=None):
    """Fraction of examples whose argmax output matches the target class (for a single
    output unit: whether y > 0.5 matches t > 0.5)."""
    t = targets_like(y, t)
    if y.shape[-1] == 1:
        hit = ((y[..., 0] > 0.5) == (t[..., 0] > 0.5)).astype(y.dtype)
    else:
        hit = (jnp.argmax(y, axis=-1) == jnp.argmax(t, axis=-1)).astype(y.dtype)
    weights = _weights(y, weights)
    if weights is None:
        return jnp.mean(hit)
    return jnp.sum(hit * weights) / jnp.sum(weights)
