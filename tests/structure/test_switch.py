"""The search's hidden layer: each member's activation chosen by its ``kind``, exactly
what Dense or Maxout computes, and its hand-written backward pass equal to jax.grad."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fnnet import Dense, Maxout, Network, gradcheck
from fnnet.structure.switch import Switch

KINDS = ("sigmoid", "tanh", "relu", "maxout")


def _params(kind, pieces=2, seed=0):
    w = jax.random.normal(jax.random.key(seed), (3, 4, pieces), jnp.float64)
    b = jax.random.normal(jax.random.key(seed + 1), (4, pieces), jnp.float64)
    return {"w": w, "b": b, "kind": jnp.asarray(float(KINDS.index(kind)), jnp.float64)}


@pytest.mark.parametrize("kind", KINDS)
def test_a_member_computes_its_own_layer_and_backprop_equals_jax_grad(kind, x64):
    p = _params(kind)
    x = jax.random.normal(jax.random.key(5), (6, 3), jnp.float64)
    net = Network(3, (Switch(4, KINDS, pieces=2), Dense(2)))
    head = {"w": jnp.ones((4, 2), jnp.float64) / 4, "b": jnp.zeros(2, jnp.float64)}
    if kind == "maxout":
        own = Network(3, (Maxout(4, 2),)).apply([{"w": p["w"], "b": p["b"]}], x)
    else:
        own = Network(3, (Dense(4, kind),)).apply([{"w": p["w"][..., 0], "b": p["b"][..., 0]}], x)
    np.testing.assert_allclose(Network(3, (Switch(4, KINDS, pieces=2),)).apply([p], x), own, rtol=1e-14)
    report = gradcheck.assert_gradients_close(net, "squared_error", [p, head], x, jnp.zeros((6, 2), jnp.float64),
                                              methods=("backprop",))
    assert report.worst("backprop") < 1e-13
