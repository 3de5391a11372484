"""Dropout: a key in training mode, masks from the key alone, the notes' rule."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fnnet import Dense, Dropout, Network
from tests.model.test_network import NET


def test_dropout_needs_a_key_in_training_mode():
    params = NET.init(jax.random.key(0))
    x = jnp.ones((2, 4))
    with pytest.raises(ValueError, match=r"layers \[1\] \(Dropout\) need key="):
        NET.apply(params, x, train=True)
    NET.apply(params, x)  # inference needs no key
    Network(4, (Dropout(0.0), Dense(2))).apply(Network(4, (Dropout(0.0), Dense(2))).init(
        jax.random.key(0)), x, train=True)  # rate 0 draws nothing


def test_dropout_masks_depend_on_the_key_only():
    net = Network(1000, (Dropout(0.3),))
    x = jnp.ones((1, 1000))
    a = net.apply([{}], x, key=jax.random.key(0), train=True)
    b = net.apply([{}], x, key=jax.random.key(0), train=True)
    c = net.apply([{}], x, key=jax.random.key(1), train=True)
    np.testing.assert_array_equal(a, b)
    assert np.any(np.asarray(a) != np.asarray(c))
    kept = np.asarray(a) != 0
    assert abs(kept.mean() - 0.7) < 0.05
    np.testing.assert_allclose(np.asarray(a)[kept], 1 / 0.7, rtol=1e-6)  # inverted scaling


def test_notes_dropout_rule_scales_at_test_time():
    notes_rule = Network(1000, (Dropout(0.3, inverted=False),))
    x = jnp.ones((1, 1000))
    train = np.asarray(notes_rule.apply([{}], x, key=jax.random.key(0), train=True))
    assert set(np.unique(train)) == {0.0, 1.0}
    np.testing.assert_allclose(notes_rule.apply([{}], x), 0.7, rtol=1e-6)


def test_notes_dropout_rule_agrees_with_inverted_dropout_in_expectation(x64):
    # E[train-mode output] equals the test-time output under both rules.
    x = jnp.linspace(-1.0, 1.0, 6, dtype=jnp.float64)[None, :]
    keys = jax.random.split(jax.random.key(0), 20000)
    for inverted in (True, False):
        net = Network(6, (Dropout(0.4, inverted), Dense(2)))
        params = net.init(jax.random.key(1), jnp.float64)
        train_out = jax.vmap(lambda k: net.apply(params, x, key=k, train=True))(keys)
        test_out = net.apply(params, x)
        np.testing.assert_allclose(train_out.mean(0), test_out, atol=0.02)
    # and the notes' test-time rule is the weights times (1 − p)
    net = Network(6, (Dropout(0.4, inverted=False), Dense(2)))
    params = net.init(jax.random.key(1), jnp.float64)
    scaled = [{}, {"w": params[1]["w"] * 0.6, "b": params[1]["b"]}]
    np.testing.assert_allclose(net.apply(params, x), Network(6, (Dense(2),)).apply(scaled[1:], x), rtol=1e-14)


def test_a_rate_float32_rounds_to_1_is_refused():
    with pytest.raises(ValueError, match=r"^Dropout: rate must be a number in \[0, 1\), got 0.99999999, which "
                                         r"float32 rounds to 1.0$"):
        Dropout(0.99999999)
    Dropout(0.9999999)
