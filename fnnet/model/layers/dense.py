"""Layers as data: the Layer protocol, and Dense, Maxout and Dropout, which follow it.

A layer is a frozen, hashable description. It never holds arrays; its parameters
live in the pytree entry that ``init`` returns. Each layer has a forward rule that
also returns what its backward rule needs (the cache) and a backward rule:

    delta = layer.delta(cache, g)                         # ∂C/∂z from g = ∂C/∂a
    g_prev, grads = layer.backward(params, cache, delta)  # δ Wᵀ, (a_prevᵀ δ, Σ δ)

All arrays are ``(batch, features)``; the network flattens any leading axes into the
batch axis and adds it for a single example.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, runtime_checkable

import jax
import jax.numpy as jnp

from fnnet import activations, initializers

INITIALIZERS = initializers.W_NAMES


@runtime_checkable
class Layer(Protocol):
    """What ``Network`` needs of a layer; any hashable object with these members is one
    (a frozen dataclass is the easy way: the network is a jit static argument).

    ``param_shapes(in_features) -> {name: shape}``: the layer's entry in the params list.
    ``init(key, in_features, dtype) -> {name: array}``: those arrays, freshly drawn.
    ``forward(params, a_prev, *, key=None, train=False) -> (a, cache)``: a_prev
    (batch, in) -> a (batch, out), and whatever the backward rule needs.
    ``delta(cache, g) -> delta``: ∂C/∂z from g = ∂C/∂a (the ``⊙ f'(z)`` step).
    ``backward(params, cache, delta) -> (g_prev, grads)``: ∂C/∂a_prev (batch, in) and
    ∂C/∂params (the entry's tree).
    ``out_features(in_features) -> int``; ``needs_key``: forward draws random numbers
    in training mode (the network then folds a key for it).
    """

    needs_key: bool

    def param_shapes(self, in_features: int) -> dict: ...

    def init(self, key, in_features: int, dtype) -> dict: ...

    def forward(self, params, a_prev, *, key=None, train=False) -> tuple[Any, Any]: ...

    def delta(self, cache, g): ...

    def backward(self, params, cache, delta) -> tuple[Any, dict]: ...

    def out_features(self, in_features: int) -> int: ...


PROTOCOL_METHODS = ("param_shapes", "init", "forward", "delta", "backward", "out_features")


def missing(layer: Any) -> list[str]:
    """The members of the Layer protocol that ``layer`` lacks (empty for a layer)."""
    absent = [m for m in PROTOCOL_METHODS if not callable(getattr(layer, m, None))]
    return absent + ([] if hasattr(layer, "needs_key") else ["needs_key"])


def _check_features(kind: str, features: Any) -> None:
    if isinstance(features, bool) or not isinstance(features, int) or features < 1:
        raise ValueError(f"{kind}: features must be a positive int, got {features!r}")


def _check_fields(layer) -> None:
    kind = type(layer).__name__
    initializers.check(kind, "w_init", layer.w_init)
    initializers.check(kind, "b_init", layer.b_init)
    if not isinstance(layer.use_bias, bool):
        raise ValueError(f"{kind}: use_bias must be True or False, got {layer.use_bias!r}")
    try:
        hash(layer)
    except TypeError as e:  # e.g. an initializer that is an unhashable object
        raise TypeError(f"{kind}: every field must be hashable (a network is a jit static argument): {e}") from None


class DenseCache(NamedTuple):
    a_prev: jax.Array  # (batch, in)
    z: jax.Array  # (batch, out)
    a: jax.Array  # (batch, out)


@dataclass(frozen=True)
class Dense:
    """Fully connected layer ``a = f(a_prev W + b)``; W: (in, features), b: (features,).

    ``activation``: a registered name, an ``activations.Activation``, an ``(f, df)``
    pair (df: (z, a) -> f'(z)) or a callable f (derivative by ``jax.vjp``); see
    ``activations.resolve``. ``w_init`` is "glorot", "he", "lecun" or a
    ``jax.nn.initializers`` callable; None picks He for ReLU-like activations and
    Glorot (Xavier) for the others. ``b_init``: zeros (None, "zeros") or a callable.
    ``use_bias=False``: ``a = f(a_prev W)`` and the entry is ``{"w"}`` alone.
    """

    features: int
    activation: Any = "identity"
    w_init: Any = None
    b_init: Any = None
    use_bias: bool = True

    def __post_init__(self):
        _check_features("Dense", self.features)
        object.__setattr__(self, "activation", activations.resolve(self.activation))
        _check_fields(self)

    needs_key = False

    def out_features(self, in_features: int) -> int:
        return self.features

    def param_shapes(self, in_features: int) -> dict:
        shapes = {"w": (in_features, self.features)}
        return {**shapes, "b": (self.features,)} if self.use_bias else shapes

    def init(self, key, in_features: int, dtype) -> dict:
        relu_like = isinstance(self.activation, str) and self.activation in activations.RELU_LIKE
        scheme = self.w_init if self.w_init is not None else ("he" if relu_like else "glorot")
        params = {"w": initializers.weights(key, (in_features, self.features), scheme, dtype)}
        if self.use_bias:
            params["b"] = initializers.biases(initializers.bias_key(key), (self.features,), self.b_init, dtype)
        return params

    def forward(self, params, a_prev, *, key=None, train=False):
        z = a_prev @ params["w"]
        if self.use_bias:
            z = z + params["b"][None, :]
        a = activations.get(self.activation).f(z)
        if tuple(jnp.shape(a)) != z.shape:
            raise ValueError(f"Dense activation {activations.name_of(self.activation)!r} changed the shape: "
                             f"z {z.shape} -> a {tuple(jnp.shape(a))}; an activation must keep z's shape")
        return a, DenseCache(a_prev, z, a)

    def delta(self, cache: DenseCache, g):
        return activations.get(self.activation).vjp(cache.z, cache.a, g)

    def backward(self, params, cache: DenseCache, delta):
        grads = {"w": cache.a_prev.T @ delta}
        if self.use_bias:
            grads["b"] = jnp.sum(delta, axis=0)
        return delta @ params["w"].T, grads


class MaxoutCache(NamedTuple):
    a_prev: jax.Array  # (batch, in)
    winner: jax.Array  # (batch, out) int: index of the winning piece


@dataclass(frozen=True)
class Maxout:
    """Maxout layer: each unit is the max of ``pieces`` linear pieces,
    ``a_j = max_k (a_prev W[:, j, k] + b[j, k])``; W: (in, features, pieces),
    b: (features, pieces). ``w_init`` (default He), ``b_init`` and ``use_bias`` as for
    Dense.

    Ties go to the first (lowest-index) maximal piece, in ``apply`` (and so in
    ``jax.grad``) and in the hand-written backward pass alike.
    """

    features: int
    pieces: int = 2
    w_init: Any = None
    b_init: Any = None
    use_bias: bool = True

    def __post_init__(self):
        _check_features("Maxout", self.features)
        if isinstance(self.pieces, bool) or not isinstance(self.pieces, int) or self.pieces < 1:
            raise ValueError(f"Maxout: pieces must be a positive int, got {self.pieces!r}")
        _check_fields(self)

    needs_key = False

    def out_features(self, in_features: int) -> int:
        return self.features

    def param_shapes(self, in_features: int) -> dict:
        shapes = {"w": (in_features, self.features, self.pieces)}
        return {**shapes, "b": (self.features, self.pieces)} if self.use_bias else shapes

    def init(self, key, in_features: int, dtype) -> dict:
        shapes = self.param_shapes(in_features)
        # Maxout is piecewise linear like ReLU, so He by default.
        params = {"w": initializers.weights(key, shapes["w"], "he" if self.w_init is None else self.w_init, dtype)}
        if self.use_bias:
            params["b"] = initializers.biases(initializers.bias_key(key), shapes["b"], self.b_init, dtype)
        return params

    def forward(self, params, a_prev, *, key=None, train=False):
        n_in, out, pieces = params["w"].shape
        z = a_prev @ params["w"].reshape(n_in, out * pieces)
        if self.use_bias:
            z = z + params["b"].reshape(1, out * pieces)
        z = z.reshape(-1, out, pieces)
        winner = jnp.argmax(z, axis=-1)
        a = jnp.take_along_axis(z, winner[..., None], axis=-1)[..., 0]
        return a, MaxoutCache(a_prev, winner)

    def delta(self, cache: MaxoutCache, g):
        # max passes g through to the winning piece unchanged; backward routes it there.
        return g

    def backward(self, params, cache: MaxoutCache, delta):
        n_in, out, pieces = params["w"].shape
        delta_pieces = jax.nn.one_hot(cache.winner, pieces, dtype=delta.dtype) * delta[..., None]
        delta_flat = delta_pieces.reshape(-1, out * pieces)
        grads = {"w": (cache.a_prev.T @ delta_flat).reshape(n_in, out, pieces)}
        if self.use_bias:
            grads["b"] = jnp.sum(delta_pieces, axis=0)
        return delta_flat @ params["w"].reshape(n_in, out * pieces).T, grads


class DropoutCache(NamedTuple):
    # What a_prev was multiplied by: the (batch, in) mask while training, 1 - rate at test
    # time under the notes' rule, None when nothing was.
    scale: jax.Array | float | None


@dataclass(frozen=True)
class Dropout:
    """Drops each input unit with probability ``rate`` while training.

    ``inverted=True`` (default): kept units are scaled by 1/(1 - rate) while
    training and nothing changes at test time. ``inverted=False`` is the notes'
    rule: no scaling while training, and at test time the activations are
    multiplied by (1 - rate), which is the same as multiplying the weights of
    the next layer by (1 - rate). Both give the same expected input to the next
    layer. The parameter entry is an empty dict.
    """

    rate: float
    inverted: bool = True

    def __post_init__(self):
        rate = self.rate
        if isinstance(rate, jax.Array) and rate.shape == ():  # traced: Network.with_dropout
            return
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not (0 <= rate < 1):
            raise ValueError(f"Dropout: rate must be a number in [0, 1), got {rate!r}")
        object.__setattr__(self, "rate", float(rate))

    @property
    def needs_key(self) -> bool:
        return not isinstance(self.rate, float) or self.rate > 0

    def out_features(self, in_features: int) -> int:
        return in_features

    def param_shapes(self, in_features: int) -> dict:
        return {}

    def init(self, key, in_features: int, dtype) -> dict:
        return {}

    def forward(self, params, a_prev, *, key=None, train=False):
        if not self.needs_key or (not train and self.inverted):
            return a_prev, DropoutCache(None)
        rate = self.rate if isinstance(self.rate, float) else self.rate.astype(a_prev.dtype)
        if not train:  # the notes' rule: scaled at test time
            return a_prev * (1 - rate), DropoutCache(1 - rate)
        keep = jax.random.bernoulli(key, 1 - rate, a_prev.shape).astype(a_prev.dtype)
        scale = keep / (1 - rate) if self.inverted else keep
        return a_prev * scale, DropoutCache(scale)

    def delta(self, cache: DropoutCache, g):
        return g

    def backward(self, params, cache: DropoutCache, delta):
        return (delta if cache.scale is None else delta * cache.scale), {}


#: The built-in layer types.
LAYER_TYPES = (Dense, Maxout, Dropout)

#: Layer types a network config can name: the built-ins and those given to ``register``.
REGISTERED: dict[str, type] = {t.__name__: t for t in LAYER_TYPES}


def register(cls: type) -> type:
    """Let ``Network.to_config``/``from_config`` describe layers of ``cls`` (a dataclass
    whose fields are JSON values) by its class name; usable as a class decorator.
    Re-registering the same class (a module run again) replaces the entry."""
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"layers.register: expected a dataclass type, got {cls!r}")
    absent = [m for m in PROTOCOL_METHODS if not callable(getattr(cls, m, None))]
    if absent:
        raise TypeError(f"layers.register: {cls.__name__} lacks {', '.join(absent)} of the Layer protocol")
    old = REGISTERED.get(cls.__name__)
    if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(f"layers.register: another layer type is already registered as {cls.__name__!r} "
                         f"({old.__module__}.{old.__qualname__})")
    REGISTERED[cls.__name__] = cls
    return cls
