"""Each activation's hand-written derivative against jax.grad / jax.vjp, in float64."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fnnet import activations

ELEMENTWISE = sorted(n for n, a in activations.ACTIVATIONS.items() if a.df is not None)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivative_matches_jax_grad_including_zero(x64, name):
    act = activations.get(name)
    z = jnp.concatenate([jnp.linspace(-6.0, 6.0, 101, dtype=jnp.float64), jnp.zeros(1, jnp.float64)])
    a = act.f(z)
    expected = jax.vmap(jax.grad(act.f))(z)
    np.testing.assert_allclose(act.df(z, a), expected, rtol=1e-14, atol=1e-15)
    g = jnp.linspace(-1.0, 2.0, z.shape[0], dtype=jnp.float64)
    np.testing.assert_allclose(act.vjp(z, a, g), g * expected, rtol=1e-14, atol=1e-15)


def test_kinks_follow_jax():
    z = jnp.zeros(3)
    assert np.all(activations.get("relu").df(z, z) == 0)  # relu'(0) = 0 like jax.nn.relu
    assert np.all(activations.get("leaky_relu").df(z, z) == 1)


def test_softmax_vjp_is_the_full_jacobian_product(x64):
    act = activations.get("softmax")
    z = jax.random.normal(jax.random.key(0), (4, 5), jnp.float64)
    g = jax.random.normal(jax.random.key(1), (4, 5), jnp.float64)
    a, vjp = jax.vjp(act.f, z)
    np.testing.assert_allclose(act.vjp(z, a, g), vjp(g)[0], rtol=1e-13, atol=1e-15)
    # and against the explicit Jacobian diag(a) − a aᵀ of one example
    jac = np.diag(np.asarray(a[0])) - np.outer(a[0], a[0])
    np.testing.assert_allclose(act.vjp(z, a, g)[0], jac.T @ np.asarray(g[0]), rtol=1e-13, atol=1e-15)


def test_unknown_activation_lists_valid_names():
    with pytest.raises(ValueError, match="unknown activation 'swish'.*'relu'.*'sigmoid'"):
        activations.get("swish")
