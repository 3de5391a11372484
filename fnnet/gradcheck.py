"""Gradient equivalence: a hand-written gradient against ``jax.grad`` ("autodiff", reverse
mode), forward mode (``jax.jvp`` along every parameter) and central differences, as a
per-leaf report and a pytest-friendly assertion. Two entry points share them:

* ``compare`` / ``assert_gradients_close``: an fnnet network and loss; the hand-written
  gradient is ``fnnet.backprop`` (method "backprop").
* ``compare_fn`` / ``assert_fn_gradients_close``: any scalar function ``f(params, *args)``
  of a parameter pytree (dicts, lists, tuples, nested) and the user's own gradient
  ``grad(params, *args)`` returning a tree like params (method "hand-written"). The
  user's gradient runs eagerly, outside ``jit``, so a NumPy implementation works; ``f``
  must be traceable by JAX.

For each method and each parameter leaf the report gives the largest absolute
difference from the reference (``jax.grad`` by default) and the normwise relative
error ``max|g − g_ref| / max(max|g|, max|g_ref|)`` (0 when both are zero). A leaf
passes when ``max_abs ≤ atol + rtol · max(max|g|, max|g_ref|)``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jax.tree_util import keystr, tree_flatten_with_path

from fnnet.model import backprop, loss_calls, losses as losses_

METHODS = ("backprop", "autodiff", "forward", "central_difference")
FN_METHODS = ("hand-written", "autodiff", "forward", "central_difference")

#: Default relative tolerances by the dtype of the arithmetic: (automatic/hand-written
#: methods, central differences; None: not checked). Measured worst cases are in the README.
RTOL = {
    "float64": (1e-10, 1e-6),
    "float32": (1e-4, 5e-2),
    "bfloat16": (5e-2, None),
    "float16": (5e-2, None),
}
_EXACT = ("backprop", "hand-written", "autodiff", "forward")  # the methods ``rtol`` sets


def _loss_fn(net, loss, x, t, key, train, weights):
    return lambda p: loss_calls.value(loss, net.apply(p, x, key=key, train=train), t, weights)


def forward_mode(f, params, chunk: int = 128):
    """``∂f/∂θ_i = jvp(f, θ, e_i)`` for every basis vector e_i: the gradient by forward mode,
    ``chunk`` tangents at a time. (``jax.jacfwd`` pushes all of them at once; XLA's CPU
    compiler in jax 0.10.2 miscompiles that for some networks with thousands of
    parameters, while these chunks agree with reverse mode.)"""
    theta, unravel = ravel_pytree(params)

    def one(i):
        e = jnp.zeros_like(theta).at[i].set(1)
        return jax.jvp(lambda th: f(unravel(th)), (theta,), (e,))[1]

    return unravel(jax.lax.map(one, jnp.arange(theta.shape[0]), batch_size=chunk))


def central_differences(f, params, step=None):
    """``∂f/∂θ_i ≈ (f(θ + h_i e_i) − f(θ − h_i e_i)) / (2 h_i)`` for every parameter, with
    ``h_i = step · max(1, |θ_i|)`` and ``step = eps^(1/3)`` of the dtype by default."""
    theta, unravel = ravel_pytree(params)
    if step is None:
        step = float(jnp.finfo(theta.dtype).eps) ** (1 / 3)
    h = step * jnp.maximum(1, jnp.abs(theta))
    h = (theta + h) - theta  # a step that is exact in floating point

    def one(i):
        e = jnp.zeros_like(theta).at[i].set(h[i])
        f_plus, f_minus = f(unravel(theta + e)), f(unravel(theta - e))
        return (f_plus - f_minus) / (2 * h[i])

    return unravel(jax.lax.map(one, jnp.arange(theta.shape[0]), batch_size=256))


def _automatic(f, params) -> dict:
    """The gradient methods that need only ``f``, each as a thunk (called inside jit)."""
    return {"autodiff": lambda: jax.grad(f)(params),
            "forward": lambda: forward_mode(f, params),
            "central_difference": lambda: central_differences(f, params)}


def _methods(methods, known=METHODS) -> tuple:
    """The methods asked for, checked."""
    methods = tuple(dict.fromkeys(methods))
    unknown = [m for m in methods if m not in known]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; expected some of {list(known)}")
    return methods


@functools.lru_cache(maxsize=32)
def _program(net, loss, train, methods):
    def run(params, x, t, key, weights):
        f = _loss_fn(net, loss, x, t, key, train, weights)
        compute = {"backprop": lambda: backprop.loss_and_grad(net, loss, params, x, t, key=key,
                                                              train=train, weights=weights)[1],
                   **_automatic(f, params)}
        return f(params), {m: compute[m]() for m in methods}

    return jax.jit(run)


def _what(leaf) -> str:
    """A leaf JAX cannot take, in a user's words: "a str ('relu')", "an array of <U4"."""
    if hasattr(leaf, "dtype"):
        return f"an array of {leaf.dtype}"
    kind, text = type(leaf).__name__, repr(leaf)
    return f"a{'n' * (kind[0] in 'aeiou')} {kind} ({text if len(text) <= 40 else text[:37] + '...'})"


def _non_number(tree):
    """``(key string, leaf)`` of the first leaf of ``tree`` that is not numbers (a str, an
    object, an array of either), or None: what JAX would refuse in its own words at the
    compiled program's door."""
    for path, leaf in tree_flatten_with_path(tree)[0]:
        if isinstance(leaf, (jax.Array, bool, int, float, complex)):
            continue  # JAX arrays, keys included, and Python numbers: JAX takes them
        dtype = getattr(leaf, "dtype", None)
        if not (isinstance(dtype, np.dtype) and (dtype == np.bool_ or jnp.issubdtype(dtype, jnp.number))):
            return keystr(path), leaf
    return None


def _network_inputs(net, params, x, t, key, weights) -> None:
    """The network checker's inputs, checked as ``net.apply`` checks them (which the
    compiled program would only meet as tracers): the parameters' structure, shapes and
    dtypes, and numbers everywhere else."""
    for name, value, expected in (("params", params, "an array of a floating-point dtype"),
                                  ("x", x, "numbers (features)"), ("t", t, "numbers (targets)"),
                                  ("weights", weights, "numbers (per-example weights) or None"),
                                  ("key", key, "a PRNG key (jax.random.key) or None")):
        found = _non_number(value)
        if found is not None:
            raise ValueError(f"{name}{found[0]}: expected {expected}, got {_what(found[1])}")
        if name == "params":
            net.check_params(params)  # structure and shapes, as apply checks them


def gradients(net, loss, params, x, t, *, key=None, train=False, weights=None, methods=METHODS):
    """``{method: gradient tree}`` of ``L = loss(net.apply(params, x), t)`` for each method,
    computed in one compiled program."""
    loss = losses_.get(loss)
    methods = _methods(methods)
    _network_inputs(net, params, x, t, key, weights)
    return _program(net, loss, train, methods)(params, x, t, key, weights)[1]


@dataclass(frozen=True)
class LeafError:
    method: str
    leaf: str  # e.g. "[0]['w']"
    max_abs: float
    max_rel: float
    scale: float  # max(max|g|, max|g_ref|)


@dataclass(frozen=True)
class Report:
    """Per-leaf disagreement of each method with ``reference``; ``dl_dy``: where fnnet's
    backprop took ∂L/∂y from ("hand-written" or "jax.grad"; None for ``compare_fn``)."""

    reference: str
    dtype: str  # of the arithmetic: the network's compute dtype, else the parameters'
    loss: float  # the value of the loss (of f for ``compare_fn``)
    rows: tuple[LeafError, ...]
    dl_dy: str | None = None

    def worst(self, method: str | None = None) -> float:
        """The largest relative error (of ``method``, or of every method)."""
        rels = [r.max_rel for r in self.rows if method is None or r.method == method]
        return max(rels, default=0.0)

    def failures(self, rtol: dict[str, float], atol: dict[str, float]) -> list[LeafError]:
        return [r for r in self.rows
                if rtol.get(r.method) is not None
                and not r.max_abs <= atol.get(r.method, 0.0) + rtol[r.method] * r.scale]

    def __str__(self) -> str:
        lines = [f"gradient check against {self.reference} ({self.dtype}, loss {self.loss:.6g})"]
        if self.dl_dy is not None:
            why = " (the loss has no grad method)" if self.dl_dy == "jax.grad" else ""
            lines.append(f"∂L/∂y: {self.dl_dy}{why}")
        w = max([14] + [len(r.leaf) + 2 for r in self.rows])
        lines.append(f"{'method':<20}{'leaf':<{w}}{'max abs err':>14}{'max rel err':>14}")
        lines += [f"{r.method:<20}{r.leaf:<{w}}{r.max_abs:>14.3e}{r.max_rel:>14.3e}" for r in self.rows]
        return "\n".join(lines)


def _rows(grads: dict, reference: str, methods) -> tuple[LeafError, ...]:
    """A LeafError for every leaf of every method's gradient tree against the reference's."""
    ref_leaves = jax.tree_util.tree_flatten_with_path(grads[reference])[0]
    rows = []
    for method in methods:
        if method == reference:
            continue
        for (path, ref), got in zip(ref_leaves, jax.tree.leaves(grads[method])):
            ref64, got64 = np.asarray(ref, np.float64), np.asarray(got, np.float64)
            max_abs = float(np.max(np.abs(got64 - ref64), initial=0.0))
            scale = float(max(np.max(np.abs(ref64), initial=0.0), np.max(np.abs(got64), initial=0.0)))
            if math.isnan(max_abs) or math.isnan(scale):  # a NaN gradient is reported as NaN, never as 0
                rel = float("nan")
            else:
                rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else float("inf"))
            rows.append(LeafError(method, keystr(path), max_abs, rel, scale))
    return tuple(rows)


def compare(net, loss, params, x, t, *, key=None, train=False, weights=None,
            reference="autodiff", methods=METHODS) -> Report:
    """A Report of each method in ``methods`` against ``reference`` (all from ``METHODS``)."""
    loss = losses_.get(loss)
    (reference,) = _methods((reference,))
    wanted = _methods(dict.fromkeys((reference, *methods)))
    _network_inputs(net, params, x, t, key, weights)
    value, grads = _program(net, loss, train, wanted)(params, x, t, key, weights)
    # Tolerances follow the dtype the arithmetic ran in: the compute dtype under mixed precision.
    dtype = net.compute_dtype or jnp.result_type(*jax.tree.leaves(params)).name
    return Report(reference, dtype, float(value), _rows(grads, reference, wanted),
                  dl_dy=backprop.dl_dy_source(loss))


def default_tolerances(dtype: str, loss_value: float):
    """``(rtol, atol)`` dicts by method for parameters of ``dtype``."""
    rtol_ad, rtol_fd = RTOL.get(dtype, RTOL["float32"])
    rtol = dict.fromkeys(_EXACT, rtol_ad)
    if rtol_fd is None:
        return rtol, {}
    eps = float(jnp.finfo(dtype).eps)
    step = eps ** (1 / 3)
    # Central differences cannot resolve less than about eps·|L| / h.
    fd_floor = 100 * eps * max(1.0, abs(loss_value)) / step
    return {**rtol, "central_difference": rtol_fd}, {"central_difference": fd_floor}


def _tolerance(name: str, value) -> float | None:
    """``value`` checked: None, or a finite number >= 0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(value)) or float(value) < 0:
        raise ValueError(f"{name}: expected a finite number >= 0 (or None for the dtype's default), got {value!r}")
    return float(value)


def _assert_close(report: Report, rtol, fd_rtol) -> Report:
    rtol, fd_rtol = _tolerance("rtol", rtol), _tolerance("fd_rtol", fd_rtol)
    rtols, atols = default_tolerances(report.dtype, report.loss)
    if rtol is not None:
        rtols.update(dict.fromkeys(_EXACT, rtol))
    if fd_rtol is not None:
        rtols["central_difference"] = fd_rtol
    bad = report.failures(rtols, atols)
    if bad:
        worst = max(bad, key=lambda r: (math.isnan(r.max_rel), r.max_rel))  # NaN first: it is the worst
        raise AssertionError(f"{len(bad)} leaves disagree (worst: {worst.method} {worst.leaf}, "
                             f"rel {worst.max_rel:.3e} > rtol {rtols[worst.method]:.1e}): "
                             + ", ".join(f"{r.method} {r.leaf}" for r in bad) + f"\n{report}")
    return report


def assert_gradients_close(net, loss, params, x, t, *, key=None, train=False, weights=None,
                           methods=("backprop", "forward", "central_difference"),
                           rtol: float | None = None, fd_rtol: float | None = None) -> Report:
    """Assert that every method agrees with ``jax.grad`` within the dtype's tolerance
    (``RTOL``; override with ``rtol`` for the exact methods and ``fd_rtol`` for central
    differences). Raises AssertionError with the report; returns the report."""
    _tolerance("rtol", rtol), _tolerance("fd_rtol", fd_rtol)  # before anything compiles
    report = compare(net, loss, params, x, t, key=key, train=train, weights=weights, methods=methods)
    return _assert_close(report, rtol, fd_rtol)


# ---------------------------------------------------------------- any function


def _where(path: str) -> str:
    return path or "(the root)"


def _param_dtype(params) -> str:
    """The least precise float dtype among the leaves, after checking they are all float."""
    leaves = tree_flatten_with_path(params)[0]
    if not leaves:
        raise ValueError("params has no leaves to differentiate")
    found = _non_number(params)
    if found is not None:
        raise TypeError(f"params leaf {_where(found[0])} is {_what(found[1])}; expected an array of a float dtype")
    dtypes = []
    for path, leaf in leaves:
        dtype = jnp.dtype(leaf.dtype if hasattr(leaf, "dtype") else jnp.result_type(leaf))
        if not jnp.issubdtype(dtype, jnp.floating):
            raise TypeError(f"params leaf {_where(keystr(path))} has dtype {dtype}; expected a float dtype")
        if jax.dtypes.canonicalize_dtype(dtype) != dtype:
            raise TypeError(f"params leaf {_where(keystr(path))} is {dtype} but 64-bit mode is off; "
                            "check it inside `with jax.enable_x64(True):`")
        dtypes.append(dtype)
    return max(dtypes, key=lambda d: jnp.finfo(d).eps).name


def _children(tree):
    """``[(key string, child)]`` one level down (``[("", tree)]`` for a leaf)."""
    kids = tree_flatten_with_path(tree, is_leaf=lambda node: node is not tree)[0]
    return [(keystr(k), child) for k, child in kids]


def _difference(got, want, path=""):
    """``(key path, want's part, got's part)`` where two trees first differ in structure
    (a part is None where its tree has nothing), or None where they do not."""
    if jax.tree.structure(got) == jax.tree.structure(want):
        return None
    if type(got) is not type(want):
        return path, want, got
    g_kids, w_kids = dict(_children(got)), dict(_children(want))
    for key in [*w_kids, *g_kids]:  # params' keys first
        if key not in g_kids or key not in w_kids:
            return path + key, w_kids.get(key), g_kids.get(key)
    for key in w_kids:
        found = _difference(g_kids[key], w_kids[key], path + key)
        if found is not None:
            return found
    return path, want, got  # the same keys, other node data


def _describe(part) -> str:
    if part is None:
        return "nothing"
    if jax.tree_util.treedef_is_leaf(jax.tree.structure(part)):
        return f"an array of shape {tuple(np.shape(part))}"
    return f"a {type(part).__name__}"


def _check_grad(g, params):
    """``g`` (the user's gradient), checked to have params' tree structure and leaf shapes."""
    found = _difference(g, params)
    if found is not None:
        where, want, got = found
        raise ValueError(f"grad must return a tree like params; at {_where(where)} params has "
                         f"{_describe(want)}, grad returned {_describe(got)}")
    found = _non_number(g)
    if found is not None:
        raise TypeError(f"grad leaf {_where(found[0])} is {_what(found[1])}; expected an array of a float dtype")
    for (path, p), leaf in zip(tree_flatten_with_path(params)[0], jax.tree.leaves(g)):
        if np.shape(leaf) != np.shape(p):
            raise ValueError(f"grad leaf {_where(keystr(path))} has shape {tuple(np.shape(leaf))}; "
                             f"params' has {tuple(np.shape(p))}")
    return g


def compare_fn(f, params, *args, grad=None, reference="autodiff", methods=None) -> Report:
    """A Report of each method in ``methods`` (from ``FN_METHODS``; default "hand-written"
    when ``grad`` is given, "forward" and "central_difference") against ``reference`` for
    ``∂f/∂params`` of the scalar ``f(params, *args)``. ``args`` are arrays or pytrees of
    arrays (traced; close over anything else). The report's dtype is the params' (the least
    precise, if they are mixed) and its ``loss`` is the value of f."""
    dtype = _param_dtype(params)
    found = _non_number(args)
    if found is not None:
        raise TypeError(f"args{found[0]} is {_what(found[1])}; expected numbers: arrays or pytrees of arrays "
                        "(close over anything else)")
    out = jax.eval_shape(f, params, *args)
    if not hasattr(out, "shape") or not jnp.issubdtype(out.dtype, jnp.floating):
        raise TypeError(f"f must return a float scalar; it returned {getattr(out, 'dtype', type(out).__name__)}")
    if out.shape != ():
        raise ValueError(f"f must return a scalar; it returned shape {out.shape}")
    if methods is None:
        methods = FN_METHODS[1:] if grad is None else FN_METHODS
    (reference,) = _methods((reference,), FN_METHODS)
    wanted = _methods(dict.fromkeys((reference, *methods)), FN_METHODS)
    if "hand-written" in wanted and grad is None:
        raise ValueError('method "hand-written" needs the gradient function: grad=grad_f(params, *args)')

    # The user's gradient first (eagerly, so NumPy works): a malformed one fails before compiling.
    mine = {"hand-written": _check_grad(grad(params, *args), params)} if "hand-written" in wanted else {}

    def run(params, args):
        compute = _automatic(lambda p: f(p, *args), params)
        return f(params, *args), {m: compute[m]() for m in wanted if m not in mine}

    value, grads = jax.jit(run)(params, args)
    grads.update(mine)
    return Report(reference, dtype, float(value), _rows(grads, reference, wanted))


def assert_fn_gradients_close(f, params, *args, grad=None, methods=None,
                              rtol: float | None = None, fd_rtol: float | None = None) -> Report:
    """``assert_gradients_close`` for any scalar ``f(params, *args)`` and the user's
    gradient ``grad(params, *args)``: every method in ``methods`` (default as in
    ``compare_fn``) must agree with ``jax.grad`` within the params' dtype's tolerance
    (``RTOL``; ``rtol`` overrides it for the exact methods, ``fd_rtol`` for central
    differences). Raises AssertionError naming the failing leaves; returns the report."""
    _tolerance("rtol", rtol), _tolerance("fd_rtol", fd_rtol)  # before anything compiles
    return _assert_close(compare_fn(f, params, *args, grad=grad, methods=methods), rtol, fd_rtol)
