"""Network: a frozen description of a stack of layers, its shapes checked when it is
built, with init and a pure apply."""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from fnnet.model import activations, initializers
from fnnet.model.keys import check_key
from fnnet.model.layers.conv import Conv1D, Conv2D, Convolution
from fnnet.model.layers.dense import Dense
from fnnet.model.layers.dropout import Dropout
from fnnet.model.layers.flatten import Flatten
from fnnet.model.layers.maxout import Maxout
from fnnet.model.layers.pool import AvgPool1D, AvgPool2D, MaxPool1D, MaxPool2D
from fnnet.model.layers.protocol import PROTOCOL_METHODS, missing


@dataclass(frozen=True)
class Network:
    """A feedforward network ``in_shape -> layers[0] -> ... -> layers[-1]``.

    ``in_shape``: one example's shape, an int for a flat input (``64``: 64 features) or a
    tuple (``(8, 8, 1)``: an 8×8 image of one channel, channels last). ``layers``: Dense,
    Maxout, Dropout, Conv1D, Conv2D, the poolings, Flatten, or any hashable object with
    the Layer protocol's members (``fnnet.Layer``). Each layer's output shape is worked
    out when the network is built (``shapes``); a layer that does not fit its input is a
    ValueError naming its index and the shapes.

    Frozen and hashable; it holds no arrays, so it can be closed over or passed as a
    static argument. ``compute_dtype`` (e.g. "bfloat16") runs the forward and backward
    matrix work in that dtype while the parameters keep theirs (mixed precision); the
    output comes back in the parameters' dtype.
    """

    in_shape: tuple
    layers: tuple
    compute_dtype: str | None = None

    def __post_init__(self):
        shape = (self.in_shape,) if isinstance(self.in_shape, int) and not isinstance(self.in_shape, bool) \
            else self.in_shape
        if not (isinstance(shape, (tuple, list)) and shape
                and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in shape)):
            raise ValueError("Network: in_shape must be a positive int (features) or a tuple of positive ints "
                             f"(one example's shape), got {self.in_shape!r}")
        object.__setattr__(self, "in_shape", tuple(shape))
        layers = tuple(self.layers) if isinstance(self.layers, (list, tuple)) else None
        if not layers:
            raise ValueError(f"Network: layers must be a non-empty list of layers, got {self.layers!r}")
        for i, layer in enumerate(layers):
            absent = missing(layer)
            if absent:
                raise TypeError(f"Network: layers[{i}] ({type(layer).__name__}) is not a layer: it lacks "
                                f"{', '.join(absent)} (see fnnet.Layer); got {layer!r}")
            try:
                hash(layer)
            except TypeError:
                raise TypeError(f"Network: layers[{i}] ({type(layer).__name__}) must be hashable (a frozen "
                                "dataclass, say): the network is a jit static argument") from None
        object.__setattr__(self, "layers", layers)
        if self.compute_dtype is not None:
            dtype = jnp.dtype(self.compute_dtype)
            if not jnp.issubdtype(dtype, jnp.floating):
                raise ValueError(f"Network: compute_dtype must be a float dtype, got {self.compute_dtype!r}")
            object.__setattr__(self, "compute_dtype", dtype.name)
        self.shapes  # noqa: B018 (worked out now: a layer that does not fit fails here)

    def __hash__(self) -> int:
        # Hashed on every fit call (its caches are keyed by the network); fields never change.
        h = self.__dict__.get("_hash")
        if h is None:
            h = hash((self.in_shape, self.layers, self.compute_dtype))
            object.__setattr__(self, "_hash", h)
        return h

    def __getstate__(self) -> dict:
        # A string's hash differs between processes: a copy computes its own.
        return {k: v for k, v in self.__dict__.items() if k != "_hash"}

    def to_config(self) -> dict:
        """A JSON-ready description: ``{"in_shape", "layers": [{"type", ...}], "compute_dtype"}``.
        A ValueError names a layer that a config cannot describe: an unregistered layer
        type (see ``fnnet.register_layer``), activation or initializer callable."""
        return {"in_shape": list(self.in_shape),
                "layers": [_layer_config(i, layer) for i, layer in enumerate(self.layers)],
                "compute_dtype": self.compute_dtype}

    @classmethod
    def from_config(cls, config: dict) -> "Network":
        """The Network that ``to_config`` described; a ValueError names what does not fit."""
        types = LAYER_TYPES
        try:
            layers = []
            for i, spec in enumerate(config["layers"]):
                spec = dict(spec)
                kind = spec.pop("type", None)
                if kind not in types:
                    raise ValueError(f"layers[{i}]: unknown layer type {kind!r}; expected one of {sorted(types)}")
                layers.append(types[kind](**spec))
            return cls(tuple(config["in_shape"]), tuple(layers), config.get("compute_dtype"))
        except (KeyError, TypeError) as e:
            raise ValueError(f"not a network description ({e}): {config!r}") from None

    @functools.cached_property  # a frozen instance's shapes never change
    def shapes(self) -> tuple[tuple, ...]:
        """One example's shape before each layer and after the last: ``(in_shape, shape
        after layer 0, ..., out_shape)``."""
        shapes = [self.in_shape]
        for i, layer in enumerate(self.layers):
            try:
                shape = layer.out_shape(shapes[-1])
            except ValueError as e:
                raise ValueError(f"Network: layers[{i}] ({type(layer).__name__}) on input {shapes[-1]}: {e}") from None
            if not (isinstance(shape, tuple) and shape and all(isinstance(n, int) and n >= 1 for n in shape)):
                raise ValueError(f"Network: layers[{i}] ({type(layer).__name__}).out_shape({shapes[-1]}) returned "
                                 f"{shape!r}; expected a tuple of positive ints")
            shapes.append(shape)
        return tuple(shapes)

    @property
    def out_shape(self) -> tuple:
        """One example's output shape."""
        return self.shapes[-1]

    @property
    def in_features(self) -> int:
        """The values in one example: ``prod(in_shape)``."""
        return math.prod(self.in_shape)

    @property
    def out_features(self) -> int:
        """The outputs along the last axis (the classes, for a classifier)."""
        return self.shapes[-1][-1]

    def with_dropout(self, rates: dict) -> "Network":
        """This network with ``layers[i]`` (a Dropout) dropping at ``rates[i]``, a scalar that
        may be traced (one rate per member of a vmapped ensemble). The copy holds arrays, so
        it is not hashable: build it inside the traced function that uses it."""
        layers = list(self.layers)
        for i, rate in rates.items():
            if not isinstance(layers[i], Dropout):
                raise ValueError(f"with_dropout: layers[{i}] is {type(layers[i]).__name__}, not Dropout")
            layers[i] = Dropout(jnp.asarray(rate), layers[i].inverted)
        copy = object.__new__(Network)  # __post_init__ would insist on hashable layers
        for field in dataclasses.fields(self):
            object.__setattr__(copy, field.name, getattr(self, field.name))
        object.__setattr__(copy, "layers", tuple(layers))
        return copy

    def init(self, key, dtype=jnp.float32) -> list[dict]:
        """Parameters: a list with one dict per layer (``{"w": (in, out), "b": (out,)}`` for
        Dense, with a trailing ``pieces`` axis for Maxout, ``{}`` for Dropout)."""
        dtype = jnp.dtype(dtype)
        if not jnp.issubdtype(dtype, jnp.floating):
            raise ValueError(f"Network.init: dtype must be a float dtype, got {dtype}")
        if dtype == jnp.float64 and not jax.config.jax_enable_x64:
            raise ValueError("Network.init: float64 parameters need 64-bit mode; "
                             "call it inside `with jax.enable_x64(True):`")
        from fnnet import memory

        check_key(key)
        size = memory.parameter_count(self) * dtype.itemsize
        memory.check(memory.Estimate((("parameters", size),)), what="Network.init",
                     shrink="use a smaller network")
        return _init_program(self, dtype.name)(key)

    def check_params(self, params) -> None:
        """Raise a ValueError naming the first entry whose structure or shape does not match."""
        self.checked_dtype(params)

    def checked_dtype(self, params):
        """``check_params``, then ``param_dtype``: one look at a tree whose structure,
        shapes and dtypes were seen before (fit's fixed cost)."""
        leaves, treedef = jax.tree_util.tree_flatten(params)
        try:
            signature = (self, treedef, *[(v.shape, v.dtype) for v in leaves])
            dtype = _CHECKED.get(signature)
        except (AttributeError, TypeError):  # Python numbers, traced rates: checked every time
            signature = dtype = None
        if dtype is None:
            self._check_params(params)
            dtype = self.param_dtype(params)
            if signature is not None:
                if len(_CHECKED) > 1024:
                    _CHECKED.clear()
                _CHECKED[signature] = dtype
        return dtype

    def _check_params(self, params) -> None:
        if not isinstance(params, (list, tuple)) or len(params) != len(self.layers):
            got = (f"a {type(params).__name__} of {len(params)} entries" if isinstance(params, (list, tuple))
                   else type(params).__name__)
            raise ValueError(f"params: expected a list of {len(self.layers)} entries, one per layer, got {got}")
        dtypes = {}  # dtype -> the first leaf of it
        for i, (layer, entry, in_shape) in enumerate(zip(self.layers, params, self.shapes)):
            shapes = layer.param_shapes(in_shape)
            if not isinstance(entry, dict) or set(entry) != set(shapes):
                got = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
                raise ValueError(f"params[{i}] ({type(layer).__name__}): expected a dict with keys "
                                 f"{sorted(shapes)}, got {got}")
            for name, shape in shapes.items():
                got = tuple(jnp.shape(entry[name]))
                if got != shape:
                    raise ValueError(f"params[{i}][{name!r}] ({type(layer).__name__}): expected shape "
                                     f"{shape}, got {got}{_kernel_hint(layer, name, got, shape)}")
                try:
                    dtype = jnp.result_type(entry[name])
                except TypeError:  # strings, objects: named here, not in JAX's words
                    dtype = getattr(entry[name], "dtype", type(entry[name]).__name__)
                if not isinstance(dtype, np.dtype) or not jnp.issubdtype(dtype, jnp.floating):
                    raise ValueError(f"params[{i}][{name!r}] ({type(layer).__name__}): expected floating-point "
                                     f"values, got {dtype}")
                dtypes.setdefault(dtype, f"params[{i}][{name!r}]")
        if len(dtypes) > 1:  # promotion would silently compute in the widest (or refuse, strict)
            mixed = ", ".join(f"{leaf} is {dtype}" for dtype, leaf in dtypes.items())
            raise ValueError(f"params: expected one float dtype for every parameter (cast them, e.g. "
                             f"jax.tree.map(lambda p: p.astype(jnp.float32), params)), got mixed: {mixed}")

    def param_dtype(self, params):
        """The dtype of the parameters (of their first leaf; float32 for none)."""
        leaves = jax.tree.leaves(params)
        if not leaves:
            return jnp.dtype(jnp.float32)
        dtype = getattr(leaves[0], "dtype", None)  # arrays say it; anything else is asked
        return dtype if isinstance(dtype, np.dtype) else jnp.result_type(leaves[0])

    def _prepare(self, params, x):
        """Validated inputs as ``(params_c, a, lead, out_dtype)`` in the compute dtype: a is
        x as ``(prod(lead), *in_shape)`` with ``lead`` x's axes before ``in_shape``."""
        out_dtype = self.checked_dtype(params)
        kind = x.dtype if isinstance(x, jax.Array) else np.asarray(x).dtype
        if not (kind == np.bool_ or jnp.issubdtype(kind, jnp.number)):
            raise ValueError(f"x: expected numbers (features, cast to {out_dtype}), got an array of {kind}")
        if jnp.issubdtype(kind, jnp.complexfloating):  # the cast would silently drop the imaginary part
            raise ValueError(f"x: expected real numbers (features, cast to {out_dtype}), got an array of {kind}")
        x = jnp.asarray(x)
        r = len(self.in_shape)
        if x.ndim < r or tuple(x.shape[x.ndim - r:]) != self.in_shape:
            raise ValueError(f"x: expected shape (batch, ..., {', '.join(map(str, self.in_shape))}) or "
                             f"{self.in_shape}, got {tuple(x.shape)}{shape_hint(tuple(x.shape), self.in_shape)}")
        compute = jnp.dtype(self.compute_dtype) if self.compute_dtype else out_dtype
        if compute != out_dtype:
            params = jax.tree.map(lambda p: p.astype(compute), params)
        lead = x.shape[:x.ndim - r]
        a = x if x.ndim == r + 1 else x.reshape((-1,) + self.in_shape)
        return params, a.astype(compute), lead, out_dtype

    def forward_with_cache(self, params, x, *, key=None, train=False):
        """``(y, caches)``: y as from ``apply``, ``lead + out_shape``, and one cache per layer
        holding what its backward rule needs (``a_prev``, ``z``, ``a``, masks). Caches have
        one batch axis, ``(n, *shape)`` with ``n = prod(lead)`` (1 for a single example):
        the backward pass takes ``∂L/∂y`` reshaped to ``(n, *out_shape)``."""
        params, a, lead, out_dtype = self._prepare(params, x)
        if train and key is None:
            needing = [i for i, layer in enumerate(self.layers) if layer.needs_key]
            if needing:
                kinds = ", ".join(dict.fromkeys(type(self.layers[i]).__name__ for i in needing))
                raise ValueError(f"layers {needing} ({kinds}) need key= in training mode; "
                                 "pass key=jax.random.key(seed), a fresh one per step")
        elif train and any(layer.needs_key for layer in self.layers):
            check_key(key)
        caches, rows = [], a.shape[0]
        for i, (layer, p) in enumerate(zip(self.layers, params)):
            layer_key = jax.random.fold_in(key, i) if (train and layer.needs_key) else None
            try:
                a, cache = layer.forward(p, a, key=layer_key, train=train)
            except ValueError as e:  # shapes are static: this runs once, while tracing
                raise ValueError(f"layers[{i}] ({type(layer).__name__}): {e}") from e
            if tuple(jnp.shape(a)) != (rows,) + self.shapes[i + 1]:
                raise ValueError(f"layers[{i}] ({type(layer).__name__}): forward returned a of shape "
                                 f"{tuple(jnp.shape(a))}, expected {(rows,) + self.shapes[i + 1]} "
                                 "(batch, *out_shape)")
            caches.append(cache)
        y = a.astype(out_dtype)
        return y.reshape(lead + self.out_shape), caches

    def apply(self, params, x, *, key=None, train=False):
        """``y = f_L(... f_1(x W_1 + b_1) ...)``: x (batch, ..., *in_shape) or in_shape -> y
        (batch, ..., *out_shape) or out_shape; any leading axes are flattened into one batch
        axis and restored.

        Pure; works under jit, grad and vmap. ``key`` draws the dropout masks and is
        required when ``train=True`` and the network has dropout. x is cast to the
        parameters' dtype (or the compute dtype), as integer or float64 inputs often come.
        """
        y, _ = self.forward_with_cache(params, x, key=key, train=train)
        return y

    __call__ = apply


def shape_hint(got: tuple, in_shape: tuple) -> str:
    """What to do when an input of shape ``got`` (batch first) holds a batch of the right
    number of values in another arrangement: channels first (move them last) or flat
    (reshape); "" when it does not. Shared by ``apply`` and the training data's checks."""
    if len(got) < 2 or math.prod(got[1:]) != math.prod(in_shape):
        return ""
    example, dims = got[1:], ", ".join(map(str, in_shape))
    if len(in_shape) >= 2 and len(example) == len(in_shape) and example == (in_shape[-1], *in_shape[:-1]):
        return (f"; channels come last in fnnet (axis -1 of size {in_shape[-1]}), this looks channels-first: "
                f"x = jnp.moveaxis(x, 1, -1)")
    return f"; the values are there in another shape: x.reshape(-1, {dims})"


def _kernel_hint(layer, name: str, got: tuple, want: tuple) -> str:
    """For a convolution's kernel in PyTorch's order (out, in, *kernel) instead of fnnet's
    (*kernel, in, out): the transpose that fixes it."""
    if not (isinstance(layer, Convolution) and name == "w" and got == (want[-1], want[-2], *want[:-2])):
        return ""
    order = ", ".join(map(str, (*range(2, len(want)), 1, 0)))
    return f"; this looks like PyTorch's (out, in, *kernel) order, fnnet's is (*kernel, in, out): w.transpose({order})"


#: Layer types a network config can name: the built-ins and those given to ``register_layer``.
LAYER_TYPES: dict[str, type] = {t.__name__: t for t in (Dense, Maxout, Dropout, Conv1D, Conv2D, MaxPool1D, MaxPool2D,
                                                         AvgPool1D, AvgPool2D, Flatten)}


def register_layer(cls: type) -> type:
    """Let ``Network.to_config``/``from_config`` describe layers of ``cls`` (a dataclass
    whose fields are JSON values) by its class name; usable as a class decorator.
    Re-registering the same class (a module run again) replaces the entry."""
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"register_layer: expected a dataclass type, got {cls!r}")
    absent = [m for m in PROTOCOL_METHODS if not callable(getattr(cls, m, None))]
    if absent:
        raise TypeError(f"register_layer: {cls.__name__} lacks {', '.join(absent)} of the Layer protocol")
    old = LAYER_TYPES.get(cls.__name__)
    if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(f"register_layer: another layer type is already registered as {cls.__name__!r} "
                         f"({old.__module__}.{old.__qualname__})")
    LAYER_TYPES[cls.__name__] = cls
    return cls


def _layer_config(i: int, layer) -> dict:
    kind = type(layer).__name__
    if LAYER_TYPES.get(kind) is not type(layer):
        raise ValueError(f"to_config: layers[{i}] ({kind}) is not a registered layer type; "
                         "decorate its class with @fnnet.register_layer to write it in a config")
    spec = {"type": kind}
    for field in dataclasses.fields(layer):
        if field.init:
            value = getattr(layer, field.name)
            if not _json_ready(value):
                shown = (f"<unregistered activation {value.name!r}>" if isinstance(value, activations.Activation)
                         else repr(value)[:60])
                raise ValueError(f"to_config: layers[{i}] ({kind}) {field.name}={shown} cannot be written to "
                                 f"a config; {_HINTS.get(field.name, 'use a JSON value')}")
            spec[field.name] = value
    return spec


_HINTS = {
    "activation": "register it with fnnet.activations.register(name, f, df) and pass the name",
    "w_init": f"use one of the names {list(initializers.W_NAMES)}",
    "b_init": f"use one of the names {list(initializers.B_NAMES)}",
}


def _json_ready(value) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_json_ready(v) for v in value)
    return isinstance(value, dict) and all(isinstance(k, str) and _json_ready(v) for k, v in value.items())


_CHECKED: dict = {}  # (network, tree, shapes and dtypes) that passed check_params -> their dtype


@functools.lru_cache(maxsize=64)
def _init_program(net: Network, dtype: str):
    # One compiled program: run op by op, initialisation compiles every random op separately.
    def init(key):
        keys = jax.random.split(key, len(net.layers))
        return [layer.init(k, shape, dtype) for layer, k, shape in zip(net.layers, keys, net.shapes)]

    return jax.jit(init)


def mlp(sizes: Sequence[int], activation: str = "relu", output: str = "identity",
        dropout: float = 0.0, input_dropout: float = 0.0, compute_dtype: Any = None) -> Network:
    """``mlp([64, 128, 10])``: Dense layers of the given widths (the first is the input
    width, or one example's shape such as ``(8, 8, 1)``, flattened first), ``activation`` on
    the hidden ones, ``output`` on the last, and Dropout(``dropout``) after each hidden
    layer when it is > 0."""
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"mlp: expected at least an input and an output width, got {sizes}")
    layers = [Dropout(input_dropout)] if input_dropout > 0 else []
    if isinstance(sizes[0], (tuple, list)) and len(sizes[0]) > 1:
        layers.append(Flatten())  # an image's values in a row, for the Dense layers
    for width in sizes[1:-1]:
        layers.append(Dense(width, activation))
        if dropout > 0:
            layers.append(Dropout(dropout))
    layers.append(Dense(sizes[-1], output))
    return Network(sizes[0], tuple(layers), compute_dtype)
