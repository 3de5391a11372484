"""Convolutions, channels last: Conv1D on (batch, length, channels) and Conv2D on (batch,
height, width, channels), the notes' designed structure. The forward rule is the
cross-correlation ``lax.conv_general_dilated`` (and PyTorch, TensorFlow) computes, with
stride s, kernel dilation d and zero padding p; the backward rules are written out as
convolutions too (as matrix products on patches on CPU, below):

    z = a_prev ⋆ w + b,  a = f(z)           (⋆: cross-correlation)
    δ = ∂C/∂a ⊙ f'(z)
    ∂C/∂a_prev = δ ⋆ᵀ w    the transposed convolution: δ spread s apart, correlated with
                           w flipped (in and out channels swapped)
    ∂C/∂w = a_prev ⋆ δ     the input correlated with δ spread s apart (batch summed)
    ∂C/∂b = Σ_{batch, positions} δ

Per spatial axis, with input length H, kernel K, output length O = ⌊(H + p_lo + p_hi −
(K − 1) d − 1) / s⌋ + 1: output position o reads input positions o s + k d − p_lo.

On XLA:CPU both rules run as matrix products on patches: the forward rule dots the
(batch, *out, prod(k)·c_in) patches (each kernel offset's strided slice of the input, side
by side) with w as a (prod(k)·c_in, features) matrix; ∂C/∂w is δ dotted with the patches,
∂C/∂a_prev is δ wᵀ spread back onto the input, each offset's slice of it zero-padded into
place and summed. Other platforms run ``lax.conv_general_dilated`` (every convolution of
the backward rule in the canonical layout: batch first, channels last, kernel (k..., in,
out)). Why: XLA:CPU hands a convolution to its fast library only if it is canonical or
sits at the top level of the program, where it rewrites it into canonical form; jax.grad's
transposed convolutions are not canonical, and in a training step inside ``lax.scan``
(every fit) they ran as plain loops, most of an update's time (the CPU benchmark's conv
nets train 4.5-12× faster now, bench/README.md); under jax.grad the patches' adjoints
are dots, pads and slices, fast anywhere. The hand-written rules on CPU do what jax.grad
of the patches does, so neither gradient path is the slower one.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from fnnet.model import activations, initializers
from fnnet.model.layers.protocol import add_bias, check_features, check_fields

PADDINGS = ("VALID", "SAME")


class ConvCache(NamedTuple):
    a_prev: jax.Array  # (batch, *spatial, c_in)
    z: jax.Array  # (batch, *out_spatial, features)
    a: jax.Array  # (batch, *out_spatial, features)


def _ints(kind: str, name: str, value, n: int, low: int) -> tuple:
    """``value`` (an int, or n of them) as an n-tuple of ints >= ``low``."""
    values = (value,) * n if isinstance(value, int) and not isinstance(value, bool) else value
    if not (isinstance(values, (tuple, list)) and len(values) == n
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= low for v in values)):
        pair = "" if n == 1 else f" or {n} of them"
        raise ValueError(f"{kind}: {name} must be an int >= {low}{pair}, got {value!r}")
    return tuple(values)


def _padding(kind: str, value, n: int):
    """"VALID", "SAME", or ``n`` (lo, hi) pairs of zeros, from an int p (p on both sides
    of every axis), one (lo, hi) pair (on every axis) or n pairs."""
    if value in PADDINGS:
        return value
    pairs = " or a (low, high) pair" if n == 1 else f", a (low, high) pair or {n} such pairs"
    wrong = ValueError(f"{kind}: padding must be 'VALID', 'SAME', an int >= 0{pairs}, got {value!r}")

    def pair(v):
        if not (isinstance(v, (tuple, list)) and len(v) == 2
                and all(isinstance(p, int) and not isinstance(p, bool) and p >= 0 for p in v)):
            raise wrong
        return tuple(v)

    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise wrong
        return ((value, value),) * n
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(p, int) for p in value):
        return (pair(value),) * n
    if isinstance(value, (tuple, list)) and len(value) == n:
        return tuple(pair(v) for v in value)
    raise wrong


def correlate(a, w, stride: tuple, pads: tuple, dilation: tuple, dimensions: tuple):
    """``z = a ⋆ w`` (no bias): a (batch, *spatial, c_in), w (*k, c_in, features) -> (batch,
    *out, features), zero padding ``pads`` ((lo, hi) per axis); on CPU as patches times a
    matrix, elsewhere ``lax.conv_general_dilated``."""
    def by_lax(a, w):
        return lax.conv_general_dilated(a, w, stride, pads, rhs_dilation=dilation, dimension_numbers=dimensions)

    def by_patches(a, w):
        return _contract(patches(a, w.shape[:-2], stride, pads, dilation), w.reshape(-1, w.shape[-1]), 1)

    return lax.platform_dependent(a, w, cpu=by_patches, default=by_lax)


def patches(a, kernel: tuple, stride: tuple, pads: tuple, dilation: tuple):
    """The (batch, *out, prod(kernel)·c) patches of a (batch, *spatial, c) zero-padded by
    ``pads``: ``patches[o, (k, c)] = a_pad[o s + k d, c]``, kernel offsets row-major and
    channels fastest (w's own order), so that ``z = patches · w.reshape(-1, features)``."""
    if any(lo or hi for lo, hi in pads):
        a = jnp.pad(a, ((0, 0), *pads, (0, 0)))
    n, c = a.shape[0], a.shape[-1]
    out = [(h - (k - 1) * d - 1) // s + 1 for h, k, s, d in zip(a.shape[1:-1], kernel, stride, dilation)]
    columns = [lax.slice(a, (0, *(j * d for j, d in zip(at, dilation)), 0),
                         (n, *(j * d + (o - 1) * s + 1 for j, d, o, s in zip(at, dilation, out, stride)), c),
                         (1, *stride, 1))
               for at in itertools.product(*(range(k) for k in kernel))]
    return columns[0] if len(columns) == 1 else jnp.concatenate(columns, axis=-1)


def _contract(x, y, axes: int):
    """Σ over x's last ``axes`` axes and y's first ones (a tensordot in lax)."""
    return lax.dot_general(x, y, ((tuple(range(x.ndim - axes, x.ndim)), tuple(range(axes))), ((), ())))


@dataclass(frozen=True)
class Convolution:
    """A convolution over ``SPATIAL`` axes; Conv1D and Conv2D say how many."""

    features: int
    kernel_size: Any
    activation: Any = "identity"
    stride: Any = field(default=1, kw_only=True)
    padding: Any = field(default="VALID", kw_only=True)
    dilation: Any = field(default=1, kw_only=True)
    w_init: Any = field(default=None, kw_only=True)
    b_init: Any = field(default=None, kw_only=True)
    use_bias: bool = field(default=True, kw_only=True)

    SPATIAL = 0
    DIMENSIONS = ()  # lax's dimension numbers: input, kernel, output
    AXES = ""

    def __post_init__(self):
        kind, n = type(self).__name__, self.SPATIAL
        check_features(kind, self.features)
        object.__setattr__(self, "kernel_size", _ints(kind, "kernel_size", self.kernel_size, n, 1))
        object.__setattr__(self, "stride", _ints(kind, "stride", self.stride, n, 1))
        object.__setattr__(self, "dilation", _ints(kind, "dilation", self.dilation, n, 1))
        object.__setattr__(self, "padding", _padding(kind, self.padding, n))
        object.__setattr__(self, "activation", activations.resolve(self.activation))
        check_fields(self)

    needs_key = False

    def _pads(self, spatial: tuple) -> tuple:
        """The explicit (lo, hi) zeros of each spatial axis for an input of ``spatial``."""
        if self.padding == "VALID":
            return ((0, 0),) * self.SPATIAL
        if self.padding != "SAME":
            return self.padding
        pads = []  # lax's "SAME": ⌈H / s⌉ outputs, the odd zero at the end
        for h, k, s, d in zip(spatial, self.kernel_size, self.stride, self.dilation):
            total = max((-(-h // s) - 1) * s + (k - 1) * d + 1 - h, 0)
            pads.append((total // 2, total - total // 2))
        return tuple(pads)

    def _split(self, spatial: tuple) -> tuple:
        """``(pre, pads)``: the zeros put before the input explicitly, per axis, and the
        (lo, hi) the convolution adds itself.

        Why: XLA's algebraic simplifier (jax 0.10, CPU) mis-swaps the operands of the
        transposed convolution, a CHECK failure that ends the process, when an axis has
        kernel 2, stride 2, dilation 1 and its transpose no padding (lo = 1, nothing left
        over); jax.grad's own transpose meets it too. Padding such an axis before the
        convolution gives its transpose a zero at the start, which XLA reads correctly."""
        pre, pads = [], []
        for h, k, s, d, (lo, hi) in zip(spatial, self.kernel_size, self.stride, self.dilation, self._pads(spatial)):
            o = (h + lo + hi - (k - 1) * d - 1) // s + 1
            risky = k == 2 and s == 2 and d == 1 and lo == 1 and h - 1 - (o - 1) * s + lo == 0
            pre.append(lo if risky else 0)
            pads.append((0, hi) if risky else (lo, hi))
        return tuple(pre), tuple(pads)

    def _padded(self, a_prev):
        """``(a, pads)``: a_prev with the zeros ``_split`` puts before it, and the rest."""
        pre, pads = self._split(a_prev.shape[1:-1])
        if any(pre):
            a_prev = jnp.pad(a_prev, ((0, 0), *((p, 0) for p in pre), (0, 0)))
        return a_prev, pads

    def out_shape(self, in_shape: tuple) -> tuple:
        kind = type(self).__name__
        if len(in_shape) != self.SPATIAL + 1:
            raise ValueError(f"{kind} takes ({self.AXES}, channels) inputs, got {in_shape}")
        out = []
        for h, k, s, d, (lo, hi) in zip(in_shape, self.kernel_size, self.stride, self.dilation,
                                        self._pads(in_shape[:-1])):
            span = (k - 1) * d + 1
            if h + lo + hi < span:
                raise ValueError(f"{kind}: its kernel spans {span} (size {k}, dilation {d}) but the input's "
                                 f"{h} padded by ({lo}, {hi}) is {h + lo + hi}")
            out.append((h + lo + hi - span) // s + 1)
        return (*out, self.features)

    def param_shapes(self, in_shape: tuple) -> dict:
        self.out_shape(in_shape)
        shapes = {"w": (*self.kernel_size, in_shape[-1], self.features)}
        return {**shapes, "b": (self.features,)} if self.use_bias else shapes

    def init(self, key, in_shape: tuple, dtype) -> dict:
        shapes = self.param_shapes(in_shape)
        params = {"w": initializers.kernel(key, shapes["w"], initializers.scheme(self.w_init, self.activation),
                                           dtype)}
        if self.use_bias:
            params["b"] = initializers.biases(initializers.bias_key(key), shapes["b"], self.b_init, dtype)
        return params

    def forward(self, params, a_prev, *, key=None, train=False):
        a_in, pads = self._padded(a_prev)
        z = correlate(a_in, params["w"], self.stride, pads, self.dilation, self.DIMENSIONS)
        if self.use_bias:
            z = add_bias(z, params["b"])
        a = activations.get(self.activation).f(z)
        if tuple(jnp.shape(a)) != z.shape:
            raise ValueError(f"{type(self).__name__} activation {activations.name_of(self.activation)!r} changed "
                             f"the shape: z {z.shape} -> a {tuple(jnp.shape(a))}; an activation must keep z's shape")
        return a, ConvCache(a_prev, z, a)

    def delta(self, cache: ConvCache, g):
        return activations.get(self.activation).vjp(cache.z, cache.a, g)

    def backward(self, params, cache: ConvCache, delta):
        w, (a_prev, pads) = params["w"], self._padded(cache.a_prev)
        g_prev, w_grad = lax.platform_dependent(a_prev, w, delta, cpu=functools.partial(self._rules_patches, pads),
                                                default=functools.partial(self._rules_lax, pads))
        grads = {"w": w_grad}
        if self.use_bias:
            grads["b"] = jnp.sum(delta, axis=tuple(range(delta.ndim - 1)))
        start = (0, *(h - g for h, g in zip(a_prev.shape[1:-1], cache.a_prev.shape[1:-1])), 0)
        if any(start):  # the zeros put before the input: not the input's
            g_prev = g_prev[tuple(slice(b, None) for b in start)]
        return g_prev, grads

    def _rules_lax(self, pads, a_prev, w, delta):
        """``(∂C/∂a_prev, ∂C/∂w)`` as convolutions in the canonical layout."""
        spatial, out_spatial = a_prev.shape[1:-1], delta.shape[1:-1]
        # δ spread s apart and correlated with the flipped kernel: input position h gets
        # every δ[o] with h = o s + k d − p_lo (zeros before the first, cut after the last).
        back_pads = [((k - 1) * d - lo, h - 1 - (o - 1) * s + lo)
                     for h, o, k, s, d, (lo, _) in zip(spatial, out_spatial, self.kernel_size, self.stride,
                                                       self.dilation, pads)]
        flipped = jnp.swapaxes(jnp.flip(w, axis=tuple(range(self.SPATIAL))), -1, -2)
        g_prev = lax.conv_general_dilated(delta, flipped, (1,) * self.SPATIAL, back_pads, lhs_dilation=self.stride,
                                          rhs_dilation=self.dilation, dimension_numbers=self.DIMENSIONS)
        # ∂C/∂w[k, c, f] = Σ_{n, o} a_prev[n, o s + k d − p_lo, c] δ[n, o, f]: a correlation of
        # the input with δ over batch and positions, its stride d and δ's dilation s, cut
        # to exactly the kernel's size. The input's channels play the batch and its batch
        # the channels, δ is the kernel (*out, batch, features); moved there explicitly, so
        # that the convolution itself is canonical.
        weight_pads = [(lo, (k - 1) * d + (o - 1) * s + 1 - h - lo)
                       for h, o, k, s, d, (lo, _) in zip(spatial, out_spatial, self.kernel_size, self.stride,
                                                         self.dilation, pads)]
        axes = tuple(range(1, self.SPATIAL + 1))
        w_grad = lax.conv_general_dilated(a_prev.transpose(self.SPATIAL + 1, *axes, 0),
                                          delta.transpose(*axes, 0, self.SPATIAL + 1), self.dilation, weight_pads,
                                          rhs_dilation=self.stride, dimension_numbers=self.DIMENSIONS)
        return g_prev, w_grad.transpose(*axes, 0, self.SPATIAL + 1)  # (c_in, *k, f) -> (*k, c_in, f)

    def _rules_patches(self, pads, a_prev, w, delta):
        """``(∂C/∂a_prev, ∂C/∂w)`` as matrix products on patches: ∂C/∂w = patchesᵀ δ, and
        ∂C/∂patches = δ wᵀ, whose slice for kernel offset k goes back to the input
        positions o s + k d that the offset read (a zero pad, s − 1 zeros between values)."""
        kernel, c, n_out = self.kernel_size, w.shape[-2], 1 + self.SPATIAL
        # δ first: XLA then moves δ (features wide) rather than the patches (prod(k)·c_in wide).
        w_grad = _contract(jnp.moveaxis(delta, -1, 0), patches(a_prev, kernel, self.stride, pads, self.dilation), n_out)
        g_patches = _contract(delta, w.reshape(-1, w.shape[-1]).T, 1)  # (batch, *out, prod(k)·c_in)
        padded = [h + lo + hi for h, (lo, hi) in zip(a_prev.shape[1:-1], pads)]
        g_pad = None
        for i, at in enumerate(itertools.product(*(range(k) for k in kernel))):
            config = ((0, 0, 0), *((j * d, h - j * d - (o - 1) * s - 1, s - 1) for j, d, h, o, s in
                                   zip(at, self.dilation, padded, delta.shape[1:-1], self.stride)), (0, 0, 0))
            placed = lax.pad(g_patches[..., i * c:(i + 1) * c], jnp.zeros((), delta.dtype), config)
            g_pad = placed if g_pad is None else g_pad + placed
        g_prev = g_pad[(slice(None), *(slice(lo, lo + h) for (lo, _), h in zip(pads, a_prev.shape[1:-1])),
                        slice(None))]
        return g_prev, w_grad.T.reshape(w.shape)


@dataclass(frozen=True)
class Conv1D(Convolution):
    """A 1-D convolution ``z[o, f] = Σ_{k, c} a_prev[o s + k d − p_lo, c] w[k, c, f] + b[f]``,
    ``a = f(z)``, on (batch, length, channels); w: (kernel_size, c_in, features), b:
    (features,). ``kernel_size``, ``stride``, ``dilation``: ints. ``padding``: "VALID" (none),
    "SAME" (⌈length / stride⌉ outputs), an int p (p zeros at both ends) or a (low, high)
    pair. ``w_init`` (default He for ReLU-like activations, else Glorot, with the kernel's
    fans: prod(k)·c_in in, prod(k)·features out), ``b_init`` and ``use_bias`` as for Dense."""

    SPATIAL = 1
    DIMENSIONS = ("NWC", "WIO", "NWC")
    AXES = "length"


@dataclass(frozen=True)
class Conv2D(Convolution):
    """A 2-D convolution on (batch, height, width, channels): as Conv1D on two spatial axes;
    w: (kh, kw, c_in, features). ``kernel_size``, ``stride``, ``dilation``: an int or a
    (height, width) pair. ``padding``: "VALID", "SAME", an int p (p zeros on every side), a
    (low, high) pair for both axes, or ((low, high), (low, high)) per axis."""

    SPATIAL = 2
    DIMENSIONS = ("NHWC", "HWIO", "NHWC")
    AXES = "height, width"

