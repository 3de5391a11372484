"""Mixed precision: parameters in float32, matrix work in bfloat16."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fnnet import Dense, Dropout, Maxout, Network, gradcheck, losses, optim, train

LAYERS = (Dense(64, "relu"), Maxout(32, 3), Dropout(0.2), Dense(10))
NET = Network(20, LAYERS, compute_dtype="bfloat16")
FULL = Network(20, LAYERS)


def _problem():
    x = jax.random.normal(jax.random.key(1), (32, 20))
    return NET.init(jax.random.key(0)), x, jnp.arange(32) % 10


def test_matmuls_run_in_bfloat16_and_the_output_comes_back_in_float32():
    params, x, _ = _problem()
    assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(params))
    y = NET.apply(params, x)
    assert y.dtype == jnp.float32
    jaxpr = str(jax.make_jaxpr(lambda p: NET.apply(p, x))(params))
    assert jaxpr.count("dot_general") == 3 and "preferred_element_type=bfloat16" in jaxpr
    np.testing.assert_allclose(y, FULL.apply(params, x), atol=0.1, rtol=0.05)


def test_gradient_check_uses_bfloat16_tolerances():
    params, x, t = _problem()
    loss = losses.cross_entropy(from_logits=True)
    report = gradcheck.assert_gradients_close(NET, loss, params, x, t, key=jax.random.key(2), train=True,
                                          methods=("backprop", "forward"))
    assert report.dtype == "bfloat16" and report.worst("backprop") < gradcheck.RTOL["bfloat16"][0]

    # A dense network's bfloat16 gradient is within a few percent of the float32 one. (With
    # maxout, pieces within bfloat16 rounding of each other can swap winners: 0.4% of them
    # here, which moves that layer's gradient by up to ~20%.)
    dense = (Dense(64, "relu"), Dense(64, "tanh"), Dense(10))
    mixed, full = Network(20, dense, compute_dtype="bfloat16"), Network(20, dense)
    params = full.init(jax.random.key(0))
    g16 = gradcheck.gradients(mixed, loss, params, x, t, methods=("backprop",))
    g32 = gradcheck.gradients(full, loss, params, x, t, methods=("autodiff",))
    for a, b in zip(jax.tree.leaves(g16["backprop"]), jax.tree.leaves(g32["autodiff"])):
        assert a.dtype == jnp.float32
        assert float(jnp.max(jnp.abs(a - b))) <= 0.05 * float(jnp.max(jnp.abs(b)))


@pytest.mark.parametrize("grad", ["autodiff", "backprop"])
def test_fit_in_mixed_precision_keeps_float32_parameters(grad):
    params, x, t = _problem()
    r = train.fit(NET, losses.cross_entropy(from_logits=True), optim.adam(1e-2), params, (x, t),
                  key=jax.random.key(3), epochs=20, batch_size=8, grad=grad)
    assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(r.params))
    assert r.history[-1]["loss"] < 0.5 * r.history[0]["loss"]


def test_compute_dtype_must_be_a_float():
    with pytest.raises(ValueError, match="compute_dtype must be a float dtype, got 'int8'"):
        Network(2, (Dense(1),), compute_dtype="int8")
