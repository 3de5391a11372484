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


RNG = np.random.default_rng(0)


def _np_bce(p, t):
    return -(t * np.log(p) + (1 - t) * np.log1p(-p)).sum(-1)


def _np_huber(r, d):
    a = np.abs(r)
    return np.where(a <= d, 0.5 * a * a, d * (a - 0.5 * d)).sum(-1)


NEW_LOSSES = [  # (loss, output activation, outputs, targets maker, NumPy per-example C^n of (y, t))
    (losses.binary_cross_entropy(), "sigmoid", 1, lambda n: RNG.integers(0, 2, n),
     lambda y, t: _np_bce(y, t[:, None].astype(float))),
    (losses.binary_cross_entropy(from_logits=True), "identity", 3, lambda n: RNG.integers(0, 2, (n, 3)) * 1.0,
     lambda y, t: _np_bce(1 / (1 + np.exp(-y)), t)),
    (losses.cross_entropy(label_smoothing=0.1), "softmax", 4, lambda n: RNG.integers(0, 4, n),
     lambda y, t: -(((0.9 * np.eye(4)[t]) + 0.1 / 4) * np.log(y)).sum(-1)),
    (losses.cross_entropy(from_logits=True, label_smoothing=0.2), "identity", 3, lambda n: RNG.integers(0, 3, n),
     lambda y, t: -(((0.8 * np.eye(3)[t]) + 0.2 / 3) * (y - np.log(np.exp(y).sum(-1, keepdims=True)))).sum(-1)),
    (losses.huber(0.5), "identity", 2, lambda n: RNG.normal(size=(n, 2)) * 2,
     lambda y, t: _np_huber(y - t, 0.5)),
]


@pytest.mark.parametrize("case", NEW_LOSSES, ids=lambda c: repr(c[0]))
def test_new_losses_match_numpy_and_their_hand_derivative_matches_jax_grad(x64, case):
    loss, _, out, targets, reference = case
    n = 6
    y = RNG.normal(size=(n, out))
    if out == 1 or isinstance(loss, losses.CrossEntropy) and not loss.from_logits:
        y = jax.nn.sigmoid(y) if out == 1 else jax.nn.softmax(y, axis=-1)
    y, t, w = jnp.asarray(y), jnp.asarray(targets(n)), jnp.asarray(RNG.uniform(0.5, 2, n))
    want = np.sum(reference(np.asarray(y), np.asarray(t)) * np.asarray(w)) / np.sum(np.asarray(w))
    np.testing.assert_allclose(float(loss(y, t, w)), want, rtol=1e-12)
    np.testing.assert_allclose(loss.grad(y, t, w), jax.grad(lambda y: loss(y, t, w))(y), rtol=1e-11, atol=1e-15)


def test_a_loss_with_its_own_field_first_constructs_as_expected():
    assert losses.Huber(0.5) == losses.Huber(delta=0.5) and losses.Huber(0.5).reduction == "mean"
    assert losses.Huber(delta=0.5, reduction="sum").delta == 0.5
    assert losses.SquaredError("sum").reduction == "sum"  # the notes' losses keep theirs first
    assert losses.get("huber", "sum") == losses.Huber(reduction="sum")
    with pytest.raises(ValueError, match="Huber: delta must be a number > 0, got -1"):
        losses.Huber(-1)


def test_one_weight_per_example_spreads_over_an_outputs_positions(x64):
    # A convolution's output per position (n, h, w, classes): fit and evaluate weigh examples.
    y = jax.random.normal(jax.random.key(0), (3, 2, 4, 5), jnp.float64)
    t = jnp.arange(24).reshape(3, 2, 4) % 5
    w = jnp.array([2.0, 0.0, 1.0], jnp.float64)
    spread = jnp.broadcast_to(w[:, None, None], (3, 2, 4))

    @jax.jit  # one program, not an op-by-op compile of each
    def both(weights):
        return [(loss(y, t, weights), loss.grad(y, t, weights))
                for loss in (losses.cross_entropy("mean", from_logits=True), losses.squared_error("sum"))] \
            + [losses.accuracy(y, t, weights)]

    for a, b in zip(jax.tree.leaves(both(w)), jax.tree.leaves(both(spread)), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-15)
    with pytest.raises(ValueError, match=r"weights: expected shape \(3, 2, 4\), got \(2,\)"):
        losses.squared_error()(y, t, w[:2])


@pytest.mark.parametrize("bad, word", [([1.0, -1.0], "negative"), ([1.0, np.nan], "not finite"),
                                       ([np.inf, 1.0], "not finite")])
def test_a_loss_called_with_concrete_bad_weights_says_so(bad, word):
    y, t = jnp.ones((2, 3)), np.array([0, 1])
    for name in ("cross_entropy_logits", "squared_error"):
        loss = losses.get(name)
        target = t if name == "cross_entropy_logits" else jnp.eye(3)[t]
        with pytest.raises(ValueError, match=rf"^weights: expected finite numbers >= 0, one per example; some are {word}$"):
            loss(y, target, np.array(bad))


@pytest.mark.parametrize("loss, y, t", [
    (losses.cross_entropy(), np.full((2, 3), 1 / 3, np.float32), np.array([[1.5, -0.5, 0.0], [0, 1, 0]], np.float32)),
    (losses.binary_cross_entropy(), np.full((2, 1), 0.5, np.float32), np.array([[2.0], [0.0]], np.float32)),
])
def test_concrete_targets_outside_0_1_are_refused_by_the_cross_entropies(loss, y, t):
    message = rf"^{loss.name}: expected targets in \[0, 1\] \(probabilities\), got values in \[{t.min()}, {t.max()}\]$"
    with pytest.raises(ValueError, match=message):
        loss(jnp.asarray(y), t)
    with pytest.raises(ValueError, match=message):
        loss.grad(jnp.asarray(y), t)
    assert np.isfinite(jax.jit(loss)(jnp.asarray(y), t))  # traced targets: not looked at
