"""The gradient checker for any function: a scalar ``f(params, *args)`` of a parameter
pytree (dicts, lists, tuples, nested) and the user's own gradient ``grad(params, *args)``
(a tree like params), against ``jax.grad``, forward mode and central differences, in
``fnnet.gradcheck``'s per-leaf ``Report`` with its tolerances by dtype.

The user's gradient is the method "hand-written" (fnnet's own networks call theirs
"backprop"). It runs eagerly, outside ``jit``, so a NumPy implementation works; ``f``
must be traceable by JAX. ``fnnet.gradcheck.compare_fn`` etc. are these functions.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import keystr, tree_flatten_with_path

from fnnet.gradcheck import Report, _assert_close, _automatic, _methods, _rows

FN_METHODS = ("hand-written", "autodiff", "forward", "central_difference")


def _where(path: str) -> str:
    return path or "(the root)"


def _param_dtype(params) -> str:
    """The least precise float dtype among the leaves, after checking they are all float."""
    leaves = tree_flatten_with_path(params)[0]
    if not leaves:
        raise ValueError("params has no leaves to differentiate")
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
    return _assert_close(compare_fn(f, params, *args, grad=grad, methods=methods), rtol, fd_rtol)
