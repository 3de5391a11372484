"""A layer of your own: layer normalization with its hand-written backward pass.

Any hashable object with the Layer protocol's members (``fnnet.Layer``) can go
in a Network; nothing in fnnet has to know about it. ``LayerNorm`` normalizes each
example over its features and applies a learned gain g and bias b:

    μ = mean(a_prev),  σ² = var(a_prev),  x̂ = (a_prev − μ) / sqrt(σ² + ε),  a = g ⊙ x̂ + b

Its backward rule, with r = 1 / sqrt(σ² + ε) and means over the features:

    ∂C/∂g = Σ_batch δ ⊙ x̂     ∂C/∂b = Σ_batch δ
    ∂C/∂a_prev = r (d − mean(d) − x̂ ⊙ mean(d ⊙ x̂)),  d = δ ⊙ g

The script puts it in a 6-8-8-3 network and lets the gradient checker compare the
hand-written backward pass with jax.grad, forward mode and central differences in
float64, printing the report. Registering the class lets configs describe it.
"""

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp

import fnnet
from fnnet import Dense, Network, gradcheck, losses


class LayerNormCache(NamedTuple):
    xhat: jax.Array  # (batch, ..., features): the normalized input
    r: jax.Array  # (batch, ..., 1): 1 / sqrt(σ² + ε)


@fnnet.register_layer  # so Network.to_config / from_config can describe it
@dataclass(frozen=True)
class LayerNorm:
    """``a = g ⊙ (a_prev − μ) / sqrt(σ² + ε) + b`` over the last axis (the features, or an
    image's channels at each position); g, b: (features,)."""

    features: int
    eps: float = 1e-5

    needs_key = False  # draws no random numbers

    def out_shape(self, in_shape: tuple) -> tuple:
        if in_shape[-1] != self.features:
            raise ValueError(f"LayerNorm({self.features}) follows a layer of {in_shape[-1]} features")
        return in_shape

    def param_shapes(self, in_shape: tuple) -> dict:
        self.out_shape(in_shape)
        return {"g": (self.features,), "b": (self.features,)}

    def init(self, key, in_shape: tuple, dtype) -> dict:
        # The identity map to start with: unit gain, no shift.
        self.out_shape(in_shape)
        return {"g": jnp.ones((self.features,), dtype), "b": jnp.zeros((self.features,), dtype)}

    def forward(self, params, a_prev, *, key=None, train=False):
        mu = jnp.mean(a_prev, axis=-1, keepdims=True)
        var = jnp.mean((a_prev - mu) ** 2, axis=-1, keepdims=True)
        r = 1 / jnp.sqrt(var + self.eps)
        xhat = (a_prev - mu) * r
        lead = (None,) * (xhat.ndim - 1)  # g and b apply along the last axis, at every position
        return params["g"][lead] * xhat + params["b"][lead], LayerNormCache(xhat, r)

    def delta(self, cache: LayerNormCache, g):
        # a is affine in (g, b) given x̂, so ∂C/∂a is the δ that backward distributes (as for maxout).
        return g

    def backward(self, params, cache: LayerNormCache, delta):
        every = tuple(range(delta.ndim - 1))  # the batch and any positions
        grads = {"g": jnp.sum(delta * cache.xhat, axis=every), "b": jnp.sum(delta, axis=every)}
        d = delta * params["g"][(None,) * (delta.ndim - 1)]
        mean_d = jnp.mean(d, axis=-1, keepdims=True)
        mean_dx = jnp.mean(d * cache.xhat, axis=-1, keepdims=True)
        return cache.r * (d - mean_d - cache.xhat * mean_dx), grads


NET = Network(6, (Dense(8, "tanh"), LayerNorm(8), Dense(3, "softmax")))


def main(seed: int = 0, net: Network = NET):
    """Check ``net``'s hand-written gradients in float64; returns the checker's report."""
    with jax.enable_x64(True):
        k_init, k_g, k_b, k_x = jax.random.split(jax.random.key(seed), 4)
        params = net.init(k_init, jnp.float64)
        # Move the gain and bias off 1 and 0, so every term of the backward rule counts.
        i = next(i for i, layer in enumerate(net.layers) if isinstance(layer, LayerNorm))
        params[i] = {"g": params[i]["g"] + 0.3 * jax.random.normal(k_g, params[i]["g"].shape, jnp.float64),
                     "b": params[i]["b"] + 0.3 * jax.random.normal(k_b, params[i]["b"].shape, jnp.float64)}
        x = jax.random.normal(k_x, (5, *net.in_shape), jnp.float64)
        t = jnp.arange(5) % net.out_features
        report = gradcheck.assert_gradients_close(net, losses.cross_entropy(), params, x, t)
    print(report)
    print(f"worst relative error: backprop {report.worst('backprop'):.1e}, "
          f"central differences {report.worst('central_difference'):.1e}")
    assert Network.from_config(net.to_config()) == net  # the registered layer round-trips
    return report


if __name__ == "__main__":
    main()
