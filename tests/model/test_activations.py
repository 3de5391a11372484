"""Each activation's hand-written derivative against jax.grad / jax.vjp, in float64."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fnnet import Dense, Network, activations, gradcheck

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


def test_gelu_and_silu_are_jax_nn_defaults(x64):
    z = jnp.linspace(-6.0, 6.0, 41, dtype=jnp.float64)
    np.testing.assert_array_equal(activations.get("gelu").f(z), jax.nn.gelu(z))  # tanh approximation
    np.testing.assert_array_equal(activations.get("silu").f(z), jax.nn.silu(z))
    assert activations.get("gelu").df is not None and activations.get("silu").df is not None  # hand-written


def test_gelu_and_silu_networks_pass_the_gradient_checker(x64):
    net = Network(5, (Dense(7, "gelu"), Dense(6, "silu"), Dense(3, "gelu")))
    params = net.init(jax.random.key(0), jnp.float64)
    params = [{"w": e["w"], "b": 0.1 * jax.random.normal(jax.random.key(i), e["b"].shape, jnp.float64)}
              for i, e in enumerate(params)]  # biases off zero
    x = jax.random.normal(jax.random.key(1), (4, 5), jnp.float64)
    t = jax.random.normal(jax.random.key(2), (4, 3), jnp.float64)
    report = gradcheck.assert_gradients_close(net, "squared_error", params, x, t)
    assert report.worst("backprop") < 1e-13


@pytest.fixture
def registry(monkeypatch):
    # Registrations stay in this test: other tests compare the registry with the settings.
    monkeypatch.setattr(activations, "ACTIVATIONS", dict(activations.ACTIVATIONS))
    monkeypatch.setattr(activations, "RELU_LIKE", activations.RELU_LIKE)
    return activations


def _cube(z):
    return z ** 3


def _cube_df(z, a):
    return 3 * z * z


def test_a_registered_activation_is_a_name_like_the_builtins(registry, x64):
    act = registry.register("cube", _cube, _cube_df, relu_like=True)
    assert registry.get("cube") is act and "cube" in registry.RELU_LIKE
    assert registry.register("cube", _cube, _cube_df) == act  # the same rule again: no error
    net = Network(2, (Dense(3, "cube"), Dense(1, _cube)))
    assert net.layers[1].activation == "cube"  # its f is registered: stored by name
    assert Network.from_config(net.to_config()) == net
    params = [{"w": 0.5 * jnp.ones((2, 3), jnp.float64), "b": jnp.full(3, 0.1, jnp.float64)},
              {"w": jnp.full((3, 1), 0.3, jnp.float64), "b": jnp.zeros(1, jnp.float64)}]
    gradcheck.assert_gradients_close(net, "squared_error", params, jnp.ones((2, 2), jnp.float64),
                                     jnp.zeros((2, 1), jnp.float64))


def test_register_refuses_a_second_rule_for_a_name_and_bad_arguments(registry):
    with pytest.raises(ValueError, match="activation 'tanh' is already registered with another rule"):
        registry.register("tanh", jnp.tanh, lambda z, a: 1 - a ** 2)
    with pytest.raises(ValueError, match="name must be a non-empty str"):
        registry.register("", jnp.tanh)
    with pytest.raises(TypeError, match=r"register\('x'\): df must be callable, got 3"):
        registry.register("x", jnp.tanh, 3)


def test_register_without_a_derivative_uses_jax_vjp(registry, x64):
    act = registry.register("sin", jnp.sin)
    z = jnp.linspace(-2.0, 2.0, 9, dtype=jnp.float64)
    g = jnp.ones_like(z)
    np.testing.assert_allclose(act.vjp(z, act.f(z), g), jnp.cos(z), rtol=1e-15)


def test_unknown_activation_specs_are_named():
    with pytest.raises(ValueError, match=r"unknown activation 1.5; expected one of .*an \(f, df\) pair or a callable"):
        activations.resolve(1.5)
