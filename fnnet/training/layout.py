"""Weights laid out for the compiled epochs: a dense layer with few outputs (a classifier's
last layer, ``w`` of shape (256, 10)) runs transposed inside the loop.

Why: XLA:CPU vectorizes an elementwise loop along an array's last axis and writes a
matrix product's result row by row, so a (256, 10) weight's Adam update ran 4.3× slower
per number than a (10, 256) one's, and its gradient ``aᵀ δ`` 2.3× slower (one core). The
epochs program therefore carries such a leaf as its transpose (and every optimizer
state leaf of its shape) from entry to exit; the network sees it transposed back, a
view the matrix products fold in. Measured on this 2-core machine: a 64-256-10 member's update in
fit_many, on one core, 53 → 45 µs; fit on 64-128-10 1.03× → 1.2× the pure-JAX scan.

Only when the optimizer's update is elementwise, checked on its jaxpr: each value it
computes is a scalar, or an elementwise function of arrays of its own shape and of
scalars, and it closes over no array. Then transposing every array of a shape is
invisible to it, bit for bit (Adam, SGD, momentum, Adagrad, L2/L1, masks by leaf); only
the network's matrix products may sum in another order (round-off). A
clipping by norm, Adafactor's factored moments, a per-element mask array or a line
search keep the weights as they are.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

#: A 2-D weight (in, out) runs transposed when out is below this and in at least twice out.
FEW_OUTPUTS = 16

# Primitives that act on each number alone (scalars broadcast).
_ELEMENTWISE = frozenset("""
abs acos acosh add and asin asinh atan atan2 atanh cbrt ceil clamp convert_element_type copy copy_p cos cosh
div eq erf erf_inv erfc exp exp2 expm1 floor ge gt imag integer_pow is_finite le log log1p logistic lt max min
mul ne neg nextafter not or pow real reduce_precision rem round rsqrt select_n sign sin sinh sqrt square
stop_gradient sub tan tanh xor
""".split())
# Calls whose bodies are checked instead.
_CALLS = frozenset(["pjit", "jit", "closed_call", "core_call", "custom_jvp_call", "custom_vjp_call",
                    "custom_vjp_call_jaxpr", "remat", "checkpoint"])


def _swapped(shape: tuple) -> tuple:
    return shape[:-2] + (shape[-1], shape[-2])


def _eligible(shape: tuple) -> bool:
    return len(shape) == 2 and shape[1] < FEW_OUTPUTS and shape[0] >= 2 * shape[1]


def plan(update, params, state, *args) -> frozenset:
    """The shapes of ``params``' leaves to carry transposed: the eligible 2-D weights
    (``FEW_OUTPUTS``) whose transpose is no leaf's shape in ``state`` (the whole
    TrainState), when ``update(*args, g, opt_state, params)`` (``args``: the
    optimizer's traced coefficients) is elementwise on them; else empty."""
    shapes = {tuple(np.shape(p)) for p in jax.tree.leaves(params)}
    present = {tuple(np.shape(a)) for a in jax.tree.leaves(state)}
    chosen = frozenset(s for s in shapes if _eligible(s) and _swapped(s) not in present)
    if not chosen:
        return chosen
    opt_state = state.opt_state
    try:
        inner_params, inner_state = to_inner((params, opt_state), chosen)
        closed = jax.make_jaxpr(update)(*args, inner_params, inner_state, inner_params)
    except Exception:  # noqa: BLE001 - any failure to trace it so: keep the weights as they are
        return frozenset()
    return chosen if _elementwise(closed) else frozenset()


def extra_args(optimizer, g) -> dict:
    """What ``make_step`` passes a transformation taking extra arguments (the batch's
    loss, the gradient, the loss as a function of params), for the check's trace."""
    if not isinstance(optimizer, optax.GradientTransformationExtraArgs):
        return {}
    return dict(value=jnp.zeros(()), grad=g, value_fn=lambda p: jnp.zeros(()))


def _elementwise(closed) -> bool:
    if any(np.ndim(c) for c in closed.consts):
        return False
    return _jaxpr_elementwise(closed.jaxpr)


def _jaxpr_elementwise(jaxpr) -> bool:
    for eqn in jaxpr.eqns:
        shapes_in = [tuple(getattr(v.aval, "shape", ())) for v in eqn.invars]
        shapes_out = [tuple(getattr(v.aval, "shape", ())) for v in eqn.outvars]
        if not any(shapes_in) and not any(shapes_out):
            continue  # scalars only: counts, bias corrections
        name = eqn.primitive.name
        if name in _CALLS:
            subs = [p for p in eqn.params.values() if hasattr(p, "eqns") or hasattr(p, "jaxpr")]
            if not subs or not all(_sub_elementwise(s) for s in subs):
                return False
            continue
        if name == "broadcast_in_dim":
            if shapes_in[0]:
                return False
            continue
        if name not in _ELEMENTWISE or len(set(shapes_out)) != 1:
            return False
        if any(s and s != shapes_out[0] for s in shapes_in):
            return False
    return True


def _sub_elementwise(sub) -> bool:
    if hasattr(sub, "consts"):  # a ClosedJaxpr
        return _elementwise(sub)
    return _jaxpr_elementwise(sub)


def to_inner(tree, shapes: frozenset):
    """``tree`` with every leaf whose shape is in ``shapes`` transposed (last two axes)."""
    if not shapes:
        return tree
    return jax.tree.map(lambda a: jnp.swapaxes(a, -1, -2) if tuple(np.shape(a)) in shapes else a, tree)


def to_outer(tree, shapes: frozenset):
    """``to_inner``'s inverse: leaves whose shape is a transposed one of ``shapes`` back."""
    if not shapes:
        return tree
    back = {_swapped(s) for s in shapes}
    return jax.tree.map(lambda a: jnp.swapaxes(a, -1, -2) if tuple(np.shape(a)) in back else a, tree)
