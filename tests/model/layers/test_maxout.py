"""Maxout: the max of its pieces, ties to the first piece."""

import jax
import jax.numpy as jnp
import numpy as np

from fnnet import Maxout, Network


def test_maxout_is_the_max_of_its_pieces_and_ties_go_to_the_first():
    net = Network(2, (Maxout(3, 4),))
    params = net.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (6, 2))
    pieces = jnp.einsum("bi,ijk->bjk", x, params[0]["w"]) + params[0]["b"][None]
    np.testing.assert_allclose(net.apply(params, x), jnp.max(pieces, axis=-1), rtol=1e-6)
    # all pieces equal: the whole gradient goes to piece 0
    tied = [{"w": jnp.ones((2, 3, 4)), "b": jnp.zeros((3, 4))}]
    g = jax.grad(lambda p: jnp.sum(net.apply(p, x)))(tied)[0]["w"]
    assert np.all(np.asarray(g[..., 1:]) == 0) and np.any(np.asarray(g[..., 0]) != 0)


def test_maxout_can_be_relu():
    # pieces (z, 0): max(z, 0) = relu(z)
    w = jnp.stack([jnp.eye(3), jnp.zeros((3, 3))], axis=-1)
    params = [{"w": w, "b": jnp.zeros((3, 2))}]
    x = jnp.array([[-1.0, 0.5, 2.0]])
    np.testing.assert_allclose(Network(3, (Maxout(3, 2),)).apply(params, x), jax.nn.relu(x))
