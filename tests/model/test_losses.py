"""Losses against plain NumPy formulas; their derivatives against jax.grad (float64)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fnnet import losses


def _data(batch=5, k=4):
    z = jax.random.normal(jax.random.key(0), (batch, k), jnp.float64)
    labels = jnp.arange(batch) % k
    return z, jax.nn.softmax(z, axis=-1), labels, jax.nn.one_hot(labels, k, dtype=jnp.float64)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_values_match_the_notes_formulas(x64, reduction):
    z, y, labels, onehot = _data()
    y_np, t_np = np.asarray(y), np.asarray(onehot)
    per_se = 0.5 * np.sum((t_np - y_np) ** 2, axis=1)   # E = Σ ½ (t − o)²
    per_ce = -np.sum(t_np * np.log(y_np), axis=1)        # C = −Σ ŷ ln y
    reduce = np.sum if reduction == "sum" else np.mean
    np.testing.assert_allclose(losses.squared_error(reduction)(y, onehot), reduce(per_se), rtol=1e-14)
    np.testing.assert_allclose(losses.cross_entropy(reduction)(y, onehot), reduce(per_ce), rtol=1e-14)
    np.testing.assert_allclose(losses.cross_entropy(reduction, from_logits=True)(z, onehot),
                               reduce(per_ce), rtol=1e-13)
    # integer labels give the same as one-hot targets
    for loss in (losses.squared_error(reduction), losses.cross_entropy(reduction)):
        np.testing.assert_allclose(loss(y, labels), loss(y, onehot), rtol=1e-15)


@pytest.mark.parametrize("loss", [losses.squared_error("sum"), losses.squared_error("mean"),
                                  losses.cross_entropy("sum"), losses.cross_entropy("mean"),
                                  losses.cross_entropy("mean", from_logits=True)], ids=repr)
@pytest.mark.parametrize("weighted", [False, True])
def test_grad_matches_jax_grad(x64, loss, weighted):
    z, y, labels, _ = _data()
    out = z if getattr(loss, "from_logits", False) else y
    w = jnp.array([1.0, 0.0, 2.0, 0.5, 1.0], jnp.float64) if weighted else None
    expected = jax.grad(lambda o: loss(o, labels, w))(out)
    np.testing.assert_allclose(loss.grad(out, labels, w), expected, rtol=1e-13, atol=1e-16)


def test_softmax_delta_is_the_fused_gradient(x64):
    z, y, labels, _ = _data()
    loss = losses.cross_entropy("mean")
    expected = jax.grad(lambda z: loss(jax.nn.softmax(z, axis=-1), labels))(z)
    np.testing.assert_allclose(loss.softmax_delta(y, labels), expected, rtol=1e-12, atol=1e-16)


def test_weights_mask_examples_out_of_the_mean(x64):
    _, y, labels, _ = _data()
    w = jnp.array([1.0, 1.0, 1.0, 0.0, 0.0], jnp.float64)
    for loss in (losses.squared_error(), losses.cross_entropy()):
        np.testing.assert_allclose(loss(y, labels, w), loss(y[:3], labels[:3]), rtol=1e-15)


def test_from_logits_is_stable_where_probabilities_underflow(x64):
    z = jnp.array([[1000.0, 0.0, -1000.0]], jnp.float64)
    loss = losses.cross_entropy(from_logits=True)
    assert float(loss(z, jnp.array([2]))) == pytest.approx(2000.0)
    assert np.all(np.isfinite(loss.grad(z, jnp.array([2]))))
    # 0 · ln 0 counts as 0 in the probability form too
    assert float(losses.cross_entropy()(jnp.array([[1.0, 0.0]], jnp.float64), jnp.array([0]))) == 0.0


def test_single_example_and_single_output(x64):
    y = jnp.array([0.2, 0.8], jnp.float64)
    assert float(losses.squared_error("mean")(y, jnp.array(1))) == pytest.approx(0.5 * (0.04 + 0.04))
    # one output unit: the label is the target value itself
    y1 = jnp.array([[0.9], [0.2]], jnp.float64)
    assert float(losses.squared_error("sum")(y1, jnp.array([1, 0]))) == pytest.approx(0.5 * (0.01 + 0.04))
    assert float(losses.accuracy(y1, jnp.array([1, 1]))) == 0.5


def test_accuracy():
    y = jnp.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert float(losses.accuracy(y, jnp.array([1, 0, 0]))) == pytest.approx(2 / 3)


@pytest.mark.parametrize("t, message", [
    (jnp.ones((5, 3)), r"expected one-hot/float targets of shape \(5, 4\) or integer labels of shape \(5,\), got float32 of shape \(5, 3\)"),
    (jnp.ones((4,), jnp.int32), r"integer labels of shape \(5,\), got int32 of shape \(4,\)"),
])
def test_target_shape_mismatch_is_named(t, message):
    y = jnp.full((5, 4), 0.25)
    with pytest.raises(ValueError, match=message):
        losses.cross_entropy()(y, t)


def test_unknown_names_are_listed():
    with pytest.raises(ValueError, match=r"unknown loss 'hinge'; expected one of \['binary_cross_entropy', "
                       r"'binary_cross_entropy_logits', 'cross_entropy', 'cross_entropy_logits', 'huber', "
                       r"'squared_error'\] or a callable loss\(y, t\) returning a scalar"):
        losses.get("hinge")
    with pytest.raises(ValueError, match="unknown reduction 'max'"):
        losses.squared_error("max")


@pytest.mark.parametrize("make", [losses.cross_entropy, losses.squared_error,
                                  lambda: losses.cross_entropy(from_logits=True)])
def test_concrete_labels_out_of_range_are_an_error_not_a_number(make):
    # one_hot maps label 12 of 10 classes to a zero row: a loss that looks fine and is wrong.
    y = jnp.full((3, 10), 0.1)
    with pytest.raises(ValueError, match=r"expected integer labels in \[0, 10\), got values in \[0, 12\]"):
        make()(y, jnp.array([0, 12, 3]))
    with pytest.raises(ValueError, match=r"in \[0, 10\), got values in \[-1, 3\]"):
        make()(y, np.array([-1, 2, 3]))
    # One output unit: labels 0 and 1 (cross-entropy's single-unit form is binary cross-entropy).
    single = losses.binary_cross_entropy() if isinstance(make(), losses.CrossEntropy) else make()
    with pytest.raises(ValueError, match=r"in \[0, 2\), got values in \[0, 2\]"):
        single(jnp.full((2, 1), 0.5), jnp.array([0, 2]))
    # Traced labels cannot be looked at: in range they work as before, out of range the loss is NaN.
    assert jnp.isfinite(jax.jit(make())(y, jnp.array([0, 9, 3])))
    assert jnp.isnan(jax.jit(make())(y, jnp.array([0, 12, 3])))
    assert jnp.isnan(jax.jit(make())(y, jnp.array([-1, 2, 3])))
    assert jnp.isnan(jax.jit(single)(jnp.full((2, 1), 0.5), jnp.array([0, 2])))
    assert jnp.all(jnp.isnan(jax.jit(jax.grad(make()))(y, jnp.array([0, 12, 3]))[1]))  # its gradient too
