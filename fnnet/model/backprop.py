"""The hand-written backward pass: δ from the output layer back, as on the notes' slides.

    δ_L = ∂C/∂a_L ⊙ f'(z_L)                 (output layer)
    δ_l = (δ_{l+1} W_{l+1}ᵀ) ⊙ f'(z_l)      (hidden layers, walking back)
    ∂C/∂W_l = a_{l-1}ᵀ δ_l     ∂C/∂b_l = Σ_batch δ_l

Each layer supplies its own ``⊙ f'(z)`` step (``delta``) and its linear step
(``backward``); this module only chains them. It is an independent path to the
gradient: ``fnnet.gradcheck`` compares it with ``jax.grad``, ``jax.jacfwd`` and finite
differences.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from fnnet.model import loss_calls, losses as losses_
from fnnet.model.layers.dense import Dense
from fnnet.model.network import Network


def fused_softmax_cross_entropy(net: Network, loss) -> bool:
    """Whether the output is a softmax layer feeding cross-entropy on probabilities, so
    ``δ_L = y Σt − t`` (scaled by the reduction) is used directly."""
    last = net.layers[-1]
    return (isinstance(last, Dense) and last.activation == "softmax"
            and isinstance(loss, losses_.CrossEntropy) and not loss.from_logits)


def dl_dy_source(loss) -> str:
    """Where ``loss_and_grad`` takes ``∂L/∂y`` from: "hand-written" (the loss's own
    ``grad(y, t, weights)``) or "jax.grad" (of the loss with respect to y)."""
    return "hand-written" if callable(getattr(loss, "grad", None)) else "jax.grad"


def _chain(net: Network, params, caches, g=None, delta=None):
    """``(∂L/∂params, ∂L/∂a_0)``: the layers' δ chain from the last back to the input."""
    compute = net.compute_dtype
    params_c = params if compute is None else jax.tree.map(lambda p: p.astype(compute), params)
    if delta is None:
        g = g if compute is None else g.astype(compute)
    else:
        delta = delta if compute is None else delta.astype(compute)
    grads = [None] * len(net.layers)  # g and delta: (n, *out_shape) of each layer, walking back
    for i in reversed(range(len(net.layers))):
        layer = net.layers[i]
        if delta is None:
            delta = layer.delta(caches[i], g)
        g, grads[i] = layer.backward(params_c[i], caches[i], delta)
        delta = None
    return jax.tree.map(lambda d, p: d.astype(p.dtype), grads, list(params)), g


def backward(net: Network, params, caches, g=None, *, delta=None):
    """Gradients (the tree of ``params``) from ``g = ∂L/∂a_L`` (batch, *out_shape), or from
    the output layer's ``delta = ∂L/∂z_L`` when given, walking the layers from the last back."""
    return _chain(net, params, caches, g, delta)[0]


def loss_and_grad(net: Network, loss, params, x, t, *, key=None, train=False, weights=None,
                  has_aux=False, wrt_input=False):
    """``(L, ∂L/∂params)`` for ``L = loss(net.apply(params, x), t)`` by the hand-written
    backward pass; x (batch, ..., *in_shape) or in_shape, t targets or labels, weights (batch,) or
    None; ``loss`` any loss (``fnnet.losses``' protocol: ∂L/∂y from its ``grad`` or, if it
    has none, from ``jax.grad`` of the loss in y). Same results as ``jax.value_and_grad``
    of the forward path; ``has_aux=True`` returns ``((L, y), grads)`` with the output y;
    ``wrt_input=True`` returns ``(L, (grads, ∂L/∂x))``, ∂L/∂x of x's shape, so the pass
    chains into an upstream model."""
    loss = losses_.get(loss)
    y, caches = net.forward_with_cache(params, x, key=key, train=train)
    value = loss_calls.value(loss, y, t, weights)
    rows = (-1,) + net.out_shape
    if fused_softmax_cross_entropy(net, loss):
        delta = loss.softmax_delta(y, t, weights)
        grads, g_x = _chain(net, params, caches, delta=delta.reshape(rows))
    else:
        g = loss_calls.dl_dy(loss, y, t, weights)
        grads, g_x = _chain(net, params, caches, g.reshape(rows))
    value = (value, y) if has_aux else value
    if not wrt_input:
        return value, grads
    x = jnp.asarray(x)
    dtype = x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else y.dtype
    return value, (grads, g_x.reshape(x.shape).astype(dtype))
