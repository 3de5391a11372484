"""Losses with their derivatives: the notes' squared error and cross-entropy, and the
losses users reach for next (binary cross-entropy, label smoothing, Huber).

Per example ``n`` the loss is ``C^n``; the reduction gives the total loss
``L = Σ_n w_n C^n`` ("sum", the notes' ``L = Σ_n C^n``) or the weighted mean
``L = Σ_n w_n C^n / Σ_n w_n`` ("mean"), with example weights ``w_n`` = 1 unless given
(fnnet uses 0 to mask padding). ``loss.grad(y, t, weights)`` is ``∂L/∂y``, the start of
the hand-written backward pass.

**The loss protocol.** Anywhere fnnet takes a loss (``fit``, ``make_step``, ``evaluate``,
``backprop.loss_and_grad``, the gradient checker) it takes a name, one of these objects,
or any callable ``loss(y, t)`` / ``loss(y, t, weights)`` returning a scalar. A callable
with a ``grad(y, t, weights=None)`` method (∂L/∂y, y's shape) gives the backward pass its
hand-written derivative; without one, ``jax.grad`` of the loss with respect to y does.
Subclassing ``Loss`` needs only ``per_example`` (C^n) and ``dc_dy`` (∂C^n/∂y^n); the base
class adds the reduction, weights and ``grad``.

Targets ``t`` are one-hot (or any distribution / regression target) of the output's
shape, or integer class labels of the output's shape without its last axis (for a
single output unit, the label is the 0/1 target itself).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

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
    # One weight per output row: y's shape without its last (output) axis. Outputs with
    # positions (a convolution's (n, height, width, classes)) may take one weight per
    # example instead, spread over its positions, as fit and evaluate weigh examples.
    if weights is None:
        return None
    if not isinstance(weights, jax.core.Tracer):  # concrete: checked as fit checks them
        w = np.asarray(weights)
        numeric = w.dtype == np.bool_ or jnp.issubdtype(w.dtype, jnp.number)
        if not numeric or not np.all(np.isfinite(w.astype(np.float64))) or np.any(w.astype(np.float64) < 0):
            bad = "non-numeric" if not numeric else (
                "not finite" if not np.all(np.isfinite(w.astype(np.float64))) else "negative")
            raise ValueError(f"weights: expected finite numbers >= 0, one per example; some are {bad}")
    weights = jnp.asarray(weights, dtype=y.dtype)
    if weights.shape != y.shape[:-1]:
        if y.ndim > 2 and weights.shape == y.shape[:1]:
            return jnp.broadcast_to(weights.reshape(weights.shape + (1,) * (y.ndim - 2)), y.shape[:-1])
        raise ValueError(f"weights: expected shape {tuple(y.shape[:-1])}, got {tuple(weights.shape)}")
    return weights


def _check_probabilities(name: str, t) -> None:
    # Concrete float targets only, as weights are checked: traced ones cannot be looked at,
    # and integer labels become one-hot rows, which are probabilities.
    if t is None or isinstance(t, jax.core.Tracer):
        return
    dtype = getattr(t, "dtype", None)
    values = np.asarray(t) if dtype is None else t
    if not jnp.issubdtype(values.dtype, jnp.floating) or values.size == 0:
        return
    values = np.asarray(values, np.float64)
    low, high = float(values.min()), float(values.max())
    if not (0 <= low and high <= 1):  # NaN fails both
        raise ValueError(f"{name}: expected targets in [0, 1] (probabilities), got values in [{low}, {high}]")


def _check_reduction(name, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: unknown reduction {reduction!r}; expected one of {list(REDUCTIONS)}")


@dataclass(frozen=True)
class Loss:
    """Base of fnnet's losses: a subclass gives ``per_example`` and ``dc_dy``. The
    reduction is keyword-only, so a subclass's own fields come first (``Huber(0.5)``)."""

    reduction: str = field(default="mean", kw_only=True)
    #: The targets are probabilities (cross-entropies): concrete ones are checked in [0, 1].
    probabilities = False

    def __post_init__(self):
        _check_reduction(type(self).__name__, self.reduction)

    def per_example(self, y, t):
        """``C^n`` for each example: (..., out) -> (...)."""
        raise NotImplementedError

    def dc_dy(self, y, t):
        """``∂C^n/∂y^n`` of the same shape as y."""
        raise NotImplementedError

    def _norm(self, y, weights):
        if self.reduction == "sum":
            return jnp.ones((), y.dtype)
        if weights is None:
            return jnp.asarray(math.prod(y.shape[:-1]), y.dtype)  # the number of examples
        return jnp.sum(weights)

    def __call__(self, y, t, weights=None):
        """The total loss L (a scalar) of outputs ``y`` against targets ``t``."""
        if self.probabilities:
            _check_probabilities(self.name, t)
        t = targets_like(y, t)
        weights = _weights(y, weights)
        c = self.per_example(y, t)
        total = jnp.sum(c if weights is None else c * weights)
        return total / self._norm(y, weights)

    def _scale(self, y, weights):
        """∂L/∂C^n for each example, shaped to multiply y-shaped arrays."""
        norm = self._norm(y, weights)
        return 1 / norm if weights is None else (weights / norm)[..., None]

    def grad(self, y, t, weights=None):
        """``∂L/∂y = ∂C^n/∂y^n · ∂L/∂C^n``, same shape as ``y``."""
        if self.probabilities:
            _check_probabilities(self.name, t)
        t = targets_like(y, t)
        return self.dc_dy(y, t) * self._scale(y, _weights(y, weights))



@dataclass(frozen=True)
class SquaredError(Loss):
    """The notes' ``C = Σ_k ½ (t_k − y_k)²``, with ``∂C/∂y = y − t``."""

    reduction: str = "mean"
    name = "squared_error"

    def per_example(self, y, t):
        return 0.5 * jnp.sum((t - y) ** 2, axis=-1)

    def dc_dy(self, y, t):
        return y - t


@dataclass(frozen=True)
class CrossEntropy(Loss):
    """The notes' ``C = −Σ_k t_k ln y_k`` on probabilities y (``∂C/∂y = −t / y``), or with
    ``from_logits=True`` on logits z, computed stably as ``−Σ_k t_k log_softmax(z)_k``
    (``∂C/∂z = softmax(z) Σ_k t_k − t``). ``label_smoothing`` ε trains against
    ``(1 − ε) t + ε / K`` for K classes. Needs K ≥ 2 outputs (one sigmoid output:
    ``BinaryCrossEntropy``)."""

    reduction: str = "mean"
    from_logits: bool = False
    label_smoothing: float = 0.0
    name = "cross_entropy"
    probabilities = True

    def __post_init__(self):
        super().__post_init__()
        e = self.label_smoothing
        if not isinstance(e, jax.core.Tracer) and not (isinstance(e, (int, float)) and 0 <= e < 1):
            raise ValueError(f"CrossEntropy: label_smoothing must be a number in [0, 1), got {e!r}")

    def _targets(self, y, t):
        if y.shape[-1] < 2:
            raise ValueError("cross_entropy: the output has 1 unit, so every −t ln y term of a "
                             "negative example is 0 and training collapses to predicting 1; use "
                             "losses.binary_cross_entropy for one sigmoid output")
        if self.label_smoothing:
            t = (1 - self.label_smoothing) * t + self.label_smoothing / y.shape[-1]
        return t

    def per_example(self, y, t):
        t = self._targets(y, t)
        if self.from_logits:
            return -jnp.sum(t * jax.nn.log_softmax(y, axis=-1), axis=-1)
        # 0 · ln 0 = 0: classes with t = 0 contribute nothing even where y underflows.
        safe_y = jnp.where(t != 0, y, jnp.ones_like(y))
        return -jnp.sum(t * jnp.log(safe_y), axis=-1)

    def dc_dy(self, y, t):
        t = self._targets(y, t)
        if self.from_logits:
            return jax.nn.softmax(y, axis=-1) * jnp.sum(t, axis=-1, keepdims=True) - t
        safe_y = jnp.where(t != 0, y, jnp.ones_like(y))
        return -t / safe_y

    def softmax_delta(self, y, t, weights=None):
        """``∂L/∂z`` for ``y = softmax(z)`` fed to this loss on probabilities, fused:
        ``δ = (y Σ_k t_k − t) ∂L/∂C^n``, with no division by y."""
        _check_probabilities(self.name, t)
        t = self._targets(y, targets_like(y, t))
        delta = y * jnp.sum(t, axis=-1, keepdims=True) - t
        return delta * self._scale(y, _weights(y, weights))


@dataclass(frozen=True)
class BinaryCrossEntropy(Loss):
    """``C = −Σ_k [t_k ln y_k + (1 − t_k) ln(1 − y_k)]`` on probabilities (one sigmoid
    output and 0/1 labels, or independent 0/1 targets), ``∂C/∂y = (y − t) / (y (1 − y))``;
    with ``from_logits=True`` on logits z, stably ``Σ_k softplus(z_k) − t_k z_k`` with
    ``∂C/∂z = sigmoid(z) − t``."""

    from_logits: bool = False
    name = "binary_cross_entropy"
    probabilities = True

    def per_example(self, y, t):
        if self.from_logits:
            return jnp.sum(jax.nn.softplus(y) - t * y, axis=-1)
        return -jnp.sum(t * jnp.log(y) + (1 - t) * jnp.log1p(-y), axis=-1)

    def dc_dy(self, y, t):
        if self.from_logits:
            return jax.nn.sigmoid(y) - t
        return (y - t) / (y * (1 - y))


@dataclass(frozen=True)
class Huber(Loss):
    """``C = Σ_k h(y_k − t_k)`` with ``h(r) = ½ r²`` for ``|r| ≤ δ`` and ``δ (|r| − ½ δ)``
    beyond: squared error near the target, absolute error far from it;
    ``∂C/∂y = clip(y − t, −δ, δ)``."""

    delta: float = 1.0
    name = "huber"

    def __post_init__(self):
        super().__post_init__()
        d = self.delta
        if not isinstance(d, jax.core.Tracer) and not (isinstance(d, (int, float)) and d > 0):
            raise ValueError(f"Huber: delta must be a number > 0, got {d!r}")

    def per_example(self, y, t):
        r = jnp.abs(y - t)
        return jnp.sum(jnp.where(r <= self.delta, 0.5 * r * r, self.delta * (r - 0.5 * self.delta)), axis=-1)

    def dc_dy(self, y, t):
        return jnp.clip(y - t, -self.delta, self.delta)


LOSSES = {
    "squared_error": lambda reduction: SquaredError(reduction),
    "cross_entropy": lambda reduction: CrossEntropy(reduction),
    "cross_entropy_logits": lambda reduction: CrossEntropy(reduction, from_logits=True),
    "binary_cross_entropy": lambda reduction: BinaryCrossEntropy(reduction=reduction),
    "binary_cross_entropy_logits": lambda reduction: BinaryCrossEntropy(True, reduction=reduction),
    "huber": lambda reduction: Huber(reduction=reduction),
}


def squared_error(reduction: str = "mean") -> SquaredError:
    """``C = Σ_k ½ (t_k − y_k)²`` reduced over the batch by ``reduction``."""
    return SquaredError(reduction)


def cross_entropy(reduction: str = "mean", *, from_logits: bool = False,
                  label_smoothing: float = 0.0) -> CrossEntropy:
    """``C = −Σ_k t_k ln y_k`` (y probabilities) or its stable from-logits form, against
    targets smoothed by ``label_smoothing``."""
    return CrossEntropy(reduction, from_logits, label_smoothing)


def binary_cross_entropy(reduction: str = "mean", *, from_logits: bool = False) -> BinaryCrossEntropy:
    """``C = −Σ_k [t_k ln y_k + (1 − t_k) ln(1 − y_k)]`` for sigmoid outputs (or logits)."""
    return BinaryCrossEntropy(from_logits, reduction=reduction)


def huber(delta: float = 1.0, reduction: str = "mean") -> Huber:
    """``C = Σ_k h_δ(y_k − t_k)``, quadratic within δ of the target, linear beyond."""
    return Huber(delta, reduction=reduction)


def get(name, reduction: str = "mean"):
    """A loss by name (``LOSSES``), or a loss object or any callable ``loss(y, t[,
    weights])`` passed through; a ValueError lists the valid names."""
    if isinstance(name, Loss) or (callable(name) and not isinstance(name, str)):
        return name
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; expected one of {sorted(LOSSES)} or a callable "
                         "loss(y, t) returning a scalar")
    return LOSSES[name](reduction)


def accumulation_dtype(dtype):
    """The dtype that metrics are summed and counted in: float32, or ``dtype`` when wider
    (float64), whatever the parameters' or compute dtype."""
    dtype = jnp.dtype(dtype)
    return dtype if jnp.issubdtype(dtype, jnp.floating) and dtype.itemsize >= 4 else jnp.dtype(jnp.float32)


def accuracy(y, t, weights=None):
    """Fraction of examples whose argmax output matches the target class (for a single
    output unit: whether y > 0.5 matches t > 0.5), in float32 or wider."""
    t = targets_like(y, t)
    count = accumulation_dtype(y.dtype)  # a bfloat16 count is exact only to 256
    if y.shape[-1] == 1:
        hit = ((y[..., 0] > 0.5) == (t[..., 0] > 0.5)).astype(count)
    else:
        hit = (jnp.argmax(y, axis=-1) == jnp.argmax(t, axis=-1)).astype(count)
    weights = _weights(y, weights)
    if weights is None:
        return jnp.mean(hit)
    weights = weights.astype(count)
    return jnp.sum(hit * weights) / jnp.sum(weights)
