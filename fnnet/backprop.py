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

from fnnet import losses as losses_
from fnnet.layers import Dense
from fnnet.network import Network


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


def backward(net: Network, params, caches, g=None, *, delta=None):
    """Gradients (the tree of ``params``) from ``g = ∂L/∂a_L`` (batch, out), or from the
    output layer's ``delta = ∂L/∂z_L`` when given, walking the layers from the last back."""
    compute = net.compute_dtype
    params_c = params if compute is None else jax.tree.map(lambda p: p.astype(compute), params)
    if delta is None:
        g = g if compute is None else g.astype(compute)
    else:
        delta = delta if compute is None else delta.astype(compute)
    grads = [None] * len(net.layers)
    for i in reversed(range(len(net.layers))):
        layer = net.layers[i]
        if delta is None:
            delta = layer.delta(caches[i], g)
        g, grads[i] = layer.backward(params_c[i], caches[i], delta)
        delta = None
    return jax.tree.map(lambda d, p: d.astype(p.dtype), grads, list(params))


def loss_and_grad(net: Network, loss, params, x, t, *, key=None, train=False, weights=None,
                  has_aux=False):
    """``(L, ∂L/∂params)`` for ``L = loss(net.apply(params, x), t)`` by the hand-written
    backward pass; x (batch, in) or (in,), t targets or labels, weights (batch,) or None.
    Same signature and results as ``jax.value_and_grad`` of the forward path; with
    ``has_aux=True`` it returns ``((L, y), grads)`` with the network's output y."""
    loss = losses_.get(loss)
    y, caches = net.forward_with_cache(params, x, key=key, train=train)
    value = loss(y, t, weights)
    batched = y.ndim == 2
    if fused_softmax_cross_entropy(net, loss):
        delta = loss.softmax_delta(y, t, weights)
        grads = backward(net, params, caches, delta=delta if batched else delta[None, :])
    else:
        g = loss.grad(y, t, weights)
        grads = backward(net, params, caches, g if batched else g[None, :])
    return ((value, y) if has_aux else value), grads
