"""The checker for any function: ``gradcheck.compare_fn`` / ``assert_fn_gradients_close``
on a user's own scalar function of a pytree and their hand-written gradient.

The oracle here is a 2-layer MLP (tanh hidden layer, softmax cross-entropy or squared
error) with its backprop written out below in array code, independent of fnnet's layers,
network and backprop. Measured worst normwise relative error per leaf against jax.grad
over both losses and both array libraries (this suite's XLA flags, CPU):

    float64: hand-written 7.3e-16, forward 7.6e-16, central differences 3.3e-10
    float32: hand-written 3.5e-7,  forward 5.0e-7,  central differences 3.4e-4
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fnnet import Conv2D, Dense, Dropout, Flatten, Maxout, MaxPool2D, Network, gradcheck, losses
from tests.model.test_backprop import materialize
from tests.model.test_network import MIXED, mixed_problem
from tests.support import worst_seen
from tests.support.nets import CONV1D_NET, CONV_NET, conv_data


def mlp_params(dtype, n_in=3, n_hidden=5, n_out=2, seed=0):
    rng = np.random.default_rng(seed)
    return {"l1": {"W": jnp.asarray(rng.normal(0, 1 / np.sqrt(n_in), (n_in, n_hidden)), dtype),
                   "b": jnp.asarray(rng.normal(0, 0.1, n_hidden), dtype)},
            "l2": (jnp.asarray(rng.normal(0, 1 / np.sqrt(n_hidden), (n_hidden, n_out)), dtype),
                   jnp.asarray(rng.normal(0, 0.1, n_out), dtype))}


def mlp_data(dtype, batch=4, n_in=3, n_out=2, seed=1):
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.normal(size=(batch, n_in)), dtype)
    t = jnp.asarray(np.eye(n_out)[rng.integers(0, n_out, batch)], dtype)  # one-hot targets
    return x, t


def mlp_loss(kind):
    """L(params, x, t): mean over the batch of softmax cross-entropy or ½‖y − t‖²."""
    def f(params, x, t):
        h = jnp.tanh(x @ params["l1"]["W"] + params["l1"]["b"][None])
        y = h @ params["l2"][0] + params["l2"][1][None]
        if kind == "cross_entropy":
            return -jnp.sum(t * jax.nn.log_softmax(y)) / x.shape[0]
        return 0.5 * jnp.sum((y - t) ** 2) / x.shape[0]
    return f


def mlp_backprop(kind, xp):
    """The hand-written gradient in array library ``xp`` (jax.numpy or NumPy):
    δ2 = ∂L/∂y, δ1 = (δ2 W2ᵀ) ⊙ (1 − h²), ∂L/∂W = aᵀ δ, ∂L/∂b = Σ_batch δ."""
    def grad(params, x, t):
        x, t = xp.asarray(x), xp.asarray(t)
        w1, b1 = xp.asarray(params["l1"]["W"]), xp.asarray(params["l1"]["b"])
        w2, b2 = (xp.asarray(p) for p in params["l2"])
        h = xp.tanh(x @ w1 + b1[None])
        y = h @ w2 + b2[None]
        if kind == "cross_entropy":
            e = xp.exp(y - y.max(axis=1, keepdims=True))
            delta2 = (e / e.sum(axis=1, keepdims=True) - t) / x.shape[0]  # rows of t sum to 1
        else:
            delta2 = (y - t) / x.shape[0]
        delta1 = (delta2 @ w2.T) * (1 - h * h)
        return {"l1": {"W": x.T @ delta1, "b": delta1.sum(axis=0)},
                "l2": (h.T @ delta2, delta2.sum(axis=0))}
    return grad


KINDS = ["cross_entropy", "squared_error"]
LIBS = pytest.mark.parametrize("xp", [jnp, np], ids=["jax.numpy", "numpy"])


@LIBS
@pytest.mark.parametrize("kind", KINDS)
def test_a_hand_written_mlp_passes_in_float64(x64, kind, xp):
    params, (x, t) = mlp_params(jnp.float64), mlp_data(jnp.float64)
    report = gradcheck.assert_fn_gradients_close(mlp_loss(kind), params, x, t, grad=mlp_backprop(kind, xp))
    assert report.dtype == "float64" and report.reference == "autodiff"
    assert {r.method for r in report.rows} == {"hand-written", "forward", "central_difference"}
    assert [r.leaf for r in report.rows[:4]] == ["['l1']['W']", "['l1']['b']", "['l2'][0]", "['l2'][1]"]
    for method in ("hand-written", "forward", "central_difference"):
        worst_seen.record(f"any-fn float64 {method}", report.worst(method))
    # far inside the default tolerances (1e-10; 1e-6 for central differences)
    assert report.worst("hand-written") < 1e-14 and report.worst("forward") < 1e-14
    assert report.worst("central_difference") < 1e-8


@LIBS
@pytest.mark.parametrize("kind", KINDS)
def test_a_hand_written_mlp_passes_in_float32(kind, xp):
    params, (x, t) = mlp_params(jnp.float32), mlp_data(jnp.float32)
    report = gradcheck.assert_fn_gradients_close(mlp_loss(kind), params, x, t, grad=mlp_backprop(kind, xp))
    assert report.dtype == "float32"
    for method in ("hand-written", "forward", "central_difference"):
        worst_seen.record(f"any-fn float32 {method}", report.worst(method))
    assert report.worst("hand-written") < 1e-5 and report.worst("central_difference") < 5e-3


def test_the_users_gradient_can_be_the_reference(x64):
    params, (x, t) = mlp_params(jnp.float64), mlp_data(jnp.float64)
    grad = mlp_backprop("cross_entropy", jnp)
    report = gradcheck.compare_fn(mlp_loss("cross_entropy"), params, x, t, grad=grad,
                                  reference="hand-written", methods=("autodiff",))
    assert report.reference == "hand-written" and {r.method for r in report.rows} == {"autodiff"}
    assert report.worst() < 1e-14 and report.dl_dy is None and "∂L/∂y" not in str(report)
    assert gradcheck.compare_fn is gradcheck.compare_fn


def test_without_a_gradient_the_automatic_methods_are_checked(x64):
    params, (x, t) = mlp_params(jnp.float64), mlp_data(jnp.float64)
    report = gradcheck.assert_fn_gradients_close(mlp_loss("squared_error"), params, x, t)
    assert {r.method for r in report.rows} == {"forward", "central_difference"}


def test_one_flipped_sign_is_named_by_its_leaf(x64):
    params, (x, t) = mlp_params(jnp.float64), mlp_data(jnp.float64)
    good = mlp_backprop("cross_entropy", jnp)

    def flipped(params, x, t):
        g = good(params, x, t)
        return {"l1": g["l1"], "l2": (g["l2"][0], -g["l2"][1])}

    with pytest.raises(AssertionError) as info:
        gradcheck.assert_fn_gradients_close(mlp_loss("cross_entropy"), params, x, t, grad=flipped)
    first_line = str(info.value).splitlines()[0]
    assert first_line.startswith("1 leaves disagree (worst: hand-written ['l2'][1], rel 2.000e+00")
    assert first_line.endswith(": hand-written ['l2'][1]")
    assert "['l1']" not in first_line and "∂L/∂y" not in str(info.value)


def test_float32_tolerances_catch_a_small_error_in_float32():
    params, (x, t) = mlp_params(jnp.float32), mlp_data(jnp.float32)
    good = mlp_backprop("squared_error", jnp)

    def off(params, x, t):  # ∂L/∂W1 off by 0.1%: beyond float32's 1e-4
        g = good(params, x, t)
        return {"l1": {"W": 1.001 * g["l1"]["W"], "b": g["l1"]["b"]}, "l2": g["l2"]}

    with pytest.raises(AssertionError, match=re.escape("hand-written ['l1']['W']")):
        gradcheck.assert_fn_gradients_close(mlp_loss("squared_error"), params, x, t, grad=off)


def _bad(kind):
    params, (x, t) = mlp_params(jnp.float32), mlp_data(jnp.float32)
    return params, x, t, mlp_backprop(kind, jnp)


def test_f_must_return_a_scalar():
    params, x, t, grad = _bad("squared_error")
    per_example = lambda p, x, t: jnp.sum((jnp.tanh(x @ p["l1"]["W"]) @ p["l2"][0] - t) ** 2, axis=1)
    with pytest.raises(ValueError, match=re.escape("f must return a scalar; it returned shape (4,)")):
        gradcheck.compare_fn(per_example, params, x, t, grad=grad)
    with pytest.raises(TypeError, match="f must return a float scalar; it returned int32"):
        gradcheck.compare_fn(lambda p, x, t: jnp.sum(x > 0), params, x, t)
    with pytest.raises(TypeError, match="f must return a float scalar; it returned tuple"):
        gradcheck.compare_fn(lambda p, x, t: (jnp.sum(x), jnp.sum(t)), params, x, t)


@pytest.mark.parametrize("change, message", [
    (lambda g: {"l1": {"W": g["l1"]["W"]}, "l2": g["l2"]},
     "grad must return a tree like params; at ['l1']['b'] params has an array of shape (5,), "
     "grad returned nothing"),
    (lambda g: {"l1": g["l1"], "l2": list(g["l2"])},
     "grad must return a tree like params; at ['l2'] params has a tuple, grad returned a list"),
    (lambda g: {"l1": g["l1"], "l2": (g["l2"][0], g["l2"][1], g["l2"][1])},
     "grad must return a tree like params; at ['l2'][2] params has nothing, grad returned an array"),
    (lambda g: {"l1": g["l1"], "l2": (g["l2"][0].T, g["l2"][1])},
     "grad leaf ['l2'][0] has shape (2, 5); params' has (5, 2)"),
    (lambda g: [g["l1"], g["l2"]],
     "grad must return a tree like params; at (the root) params has a dict, grad returned a list"),
])
def test_grad_must_return_a_tree_like_params(change, message):
    params, x, t, grad = _bad("squared_error")
    with pytest.raises(ValueError, match=re.escape(message)):
        gradcheck.compare_fn(mlp_loss("squared_error"), params, x, t, grad=lambda *a: change(grad(*a)))


def test_params_must_be_float():
    params, x, t, grad = _bad("squared_error")
    params["l1"]["b"] = jnp.zeros(5, jnp.int32)
    with pytest.raises(TypeError, match=re.escape("params leaf ['l1']['b'] has dtype int32; expected a float")):
        gradcheck.compare_fn(mlp_loss("squared_error"), params, x, t, grad=grad)
    with pytest.raises(TypeError, match=re.escape("params leaf ['l1']['W'] is float64 but 64-bit mode is off")):
        gradcheck.compare_fn(mlp_loss("squared_error"), {"l1": {"W": np.ones((3, 5))}}, x, t)
    with pytest.raises(ValueError, match="params has no leaves"):
        gradcheck.compare_fn(lambda p, x: jnp.sum(x), {}, x)


def test_methods_are_checked():
    params, x, t, grad = _bad("squared_error")
    with pytest.raises(ValueError, match='"hand-written" needs the gradient function'):
        gradcheck.compare_fn(mlp_loss("squared_error"), params, x, t, methods=("hand-written",))
    with pytest.raises(ValueError, match=re.escape("unknown methods ['backprop']")):
        gradcheck.compare_fn(mlp_loss("squared_error"), params, x, t, grad=grad, methods=("backprop",))


def test_a_network_report_says_where_backprop_takes_dl_dy_from(x64):
    net = Network(3, (Dense(4, "tanh"), Dense(2)))
    params = net.init(jax.random.key(0), jnp.float64)
    x, t = jnp.ones((2, 3), jnp.float64), jnp.ones((2, 2), jnp.float64)
    report = gradcheck.compare(net, losses.SquaredError(), params, x, t)
    assert report.dl_dy == "hand-written"
    assert str(report).splitlines()[1] == "∂L/∂y: hand-written"
    plain = gradcheck.compare(net, lambda y, t: 0.5 * jnp.sum((y - t) ** 2), params, x, t)
    assert "\n∂L/∂y: jax.grad (the loss has no grad method)\n" in str(plain)
    assert plain.worst("backprop") < 1e-14
    # existing constructions without the new field still work
    assert gradcheck.Report("autodiff", "float32", 0.0, ()).dl_dy is None


def test_forward_mode_on_a_network_that_jacfwd_gets_wrong_under_jit():
    # A draw of the float32 suite: jax.jit(jax.jacfwd(f)) (jax 0.10.2, XLA CPU) returns a
    # wrong gradient for this network; the checker's chunked forward mode must not.
    problem = (Network(17, (Maxout(32, 4), Dense(4))), losses.cross_entropy("sum", from_logits=True),
               16, False, True, False, 0)
    net, loss, params, x, t, w, key, train = materialize(problem, "float32")
    report = gradcheck.assert_gradients_close(net, loss, params, x, t, weights=w,
                                              methods=("backprop", "forward"), rtol=1e-4)
    assert report.worst("forward") < 1e-5


def test_the_checker_catches_a_wrong_derivative(x64):
    class Wrong(losses.SquaredError):
        def dc_dy(self, y, t):  # off by a factor 1.001
            return 1.001 * (y - t)

    net = Network(3, (Dense(4, "tanh"), Dense(2)))
    params = net.init(jax.random.key(0), jnp.float64)
    x, t = jnp.ones((2, 3), jnp.float64), jnp.ones((2, 2), jnp.float64)
    with pytest.raises(AssertionError, match="leaves disagree.*backprop"):
        gradcheck.assert_gradients_close(net, Wrong(), params, x, t)
    report = gradcheck.compare(net, losses.SquaredError(), params, x, t)
    assert report.worst("backprop") < 1e-14
    assert "[0]['w']" in str(report) and "central_difference" in str(report)


def test_gradient_reports_name_unknown_methods():
    net = Network(2, (Dense(1),))
    with pytest.raises(ValueError, match="unknown methods \\['magic'\\]"):
        gradcheck.gradients(net, "squared_error", net.init(jax.random.key(0)), jnp.ones(2), jnp.ones(1),
                            methods=("magic",))


def test_gradient_check_uses_bfloat16_tolerances():
    params, x, t = mixed_problem()
    loss = losses.cross_entropy(from_logits=True)
    report = gradcheck.assert_gradients_close(MIXED, loss, params, x, t, key=jax.random.key(2), train=True,
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


# ---------------------------------------------------------------- convolutional nets

# Dropout after a convolution (an image-shaped mask) and after Flatten, maxout on the
# flattened image: every kind of δ the checker has to follow in one net.
CONV_CHECKED = Network((6, 6, 2), (Conv2D(3, 3, "relu", padding="SAME"), Dropout(0.3), MaxPool2D(2),
                                   Conv2D(4, 2, "tanh"), Flatten(), Maxout(4, 2), Dropout(0.2), Dense(3)))


def _conv_problem(net, dtype):
    x, t = conv_data(net, n=5, seed=3)
    return net.init(jax.random.key(0), dtype), jnp.asarray(x, dtype), jnp.asarray(t)


@pytest.mark.parametrize("net", [CONV_CHECKED, CONV1D_NET], ids=["2-D with dropout and maxout", "1-D"])
def test_a_conv_net_passes_the_checker_in_float64(x64, net):
    params, x, t = _conv_problem(net, jnp.float64)
    methods = ("backprop", "forward", "central_difference")
    report = gradcheck.assert_gradients_close(net, "cross_entropy_logits", params, x, t, key=jax.random.key(4),
                                              train=True, methods=methods)
    for method in methods:
        worst_seen.record(f"float64 conv net {method}", report.worst(method))
    # ReLU kinks and max-pool ties are not met by these draws: backprop is exact to round-off.
    assert report.dtype == "float64" and report.worst("backprop") < 1e-13
    if net is CONV_CHECKED:  # the masks were the key's: another key, another loss (the same program)
        other = gradcheck.assert_gradients_close(net, "cross_entropy_logits", params, x, t, key=jax.random.key(5),
                                                 train=True, methods=methods)
        assert other.loss != report.loss


def test_a_conv_net_passes_the_checker_in_float32():
    params, x, t = _conv_problem(CONV_CHECKED, jnp.float32)
    report = gradcheck.assert_gradients_close(CONV_CHECKED, "cross_entropy_logits", params, x, t,
                                              key=jax.random.key(4), train=True, methods=("backprop", "forward"))
    for method in ("backprop", "forward"):
        worst_seen.record(f"float32 conv net {method}", report.worst(method))
    assert report.dtype == "float32"  # the default float32 tolerance, 1e-4, held


def test_a_mixed_precision_conv_net_passes_the_checker():
    mixed = Network(CONV_NET.in_shape, CONV_NET.layers, compute_dtype="bfloat16")
    x, t = conv_data()
    report = gradcheck.assert_gradients_close(mixed, "cross_entropy_logits", CONV_NET.init(jax.random.key(0)), x, t,
                                              key=jax.random.key(2), train=True, methods=("backprop",))
    worst_seen.record("bfloat16 conv net backprop", report.worst("backprop"))
    # Within 2% of jax.grad's (0.2% measured), well inside bfloat16's 5%: both sum the
    # biases' δ over the 24 × 64 positions in float32 (jax.grad's bfloat16 sum was 4.6% off).
    assert report.dtype == "bfloat16" and report.worst("backprop") < 2e-2


@pytest.mark.parametrize("rtol", [-1, float("nan"), float("inf"), "1e-3", True])
def test_the_checker_refuses_a_tolerance_that_is_not_a_finite_number_at_least_0(rtol):
    f = lambda p: jnp.sum(p["w"] ** 2)  # noqa: E731
    for name in ("rtol", "fd_rtol"):
        with pytest.raises(ValueError, match=rf"^{name}: expected a finite number >= 0 \(or None for the dtype's "
                                             rf"default\), got "):
            gradcheck.assert_fn_gradients_close(f, {"w": jnp.ones(3)}, **{name: rtol})


def test_a_nan_gradient_is_reported_as_nan(x64):
    f = lambda p: jnp.sqrt(-jnp.sum(p["w"] ** 2))  # noqa: E731  NaN everywhere
    report = gradcheck.compare_fn(f, {"w": jnp.ones(3, jnp.float64)})
    assert report.rows and all(np.isnan(r.max_rel) for r in report.rows)
    with pytest.raises(AssertionError, match=r"rel nan > rtol"):
        gradcheck.assert_fn_gradients_close(f, {"w": jnp.ones(3, jnp.float64)})


@pytest.mark.parametrize("change, message", [
    (lambda p, x, t: ([{**p[0], "b": "abc"}, p[1]], x, t, None),
     "params[0]['b']: expected an array of a floating-point dtype, got a str ('abc')"),
    (lambda p, x, t: ([p[0], {**p[1], "w": np.full((4, 2), "w")}], x, t, None),
     "params[1]['w']: expected an array of a floating-point dtype, got an array of <U1"),
    (lambda p, x, t: (p, np.full((2, 3), "x"), t, None), "x: expected numbers (features), got an array of <U1"),
    (lambda p, x, t: (p, x, {"t": object()}, None), "t['t']: expected numbers (targets), got an object (<object"),
    (lambda p, x, t: (p, x, t, "all"), "weights: expected numbers (per-example weights) or None, got a str ('all')"),
], ids=["str param", "array of str param", "str inputs", "object target", "str weights"])
def test_the_network_checker_names_a_leaf_that_is_not_numbers(change, message):
    net = Network(3, (Dense(4, "tanh"), Dense(2)))
    params, x, t, weights = change(net.init(jax.random.key(0)), jnp.ones((2, 3)), jnp.ones((2, 2)))
    for check in (gradcheck.compare, gradcheck.assert_gradients_close, gradcheck.gradients):
        with pytest.raises(ValueError, match="^" + re.escape(message)) as info:
            check(net, "squared_error", params, x, t, weights=weights)
        assert "\n" not in str(info.value)


def test_the_function_checker_names_a_leaf_that_is_not_numbers():
    params, x, t, grad = _bad("squared_error")
    f = mlp_loss("squared_error")
    cases = [
        (lambda: gradcheck.compare_fn(f, {**params, "l1": {**params["l1"], "b": "relu"}}, x, t),
         "params leaf ['l1']['b'] is a str ('relu'); expected an array of a float dtype"),
        (lambda: gradcheck.compare_fn(f, {**params, "l2": (object(), params["l2"][1])}, x, t),
         "params leaf ['l2'][0] is an object (<object object at"),
        (lambda: gradcheck.compare_fn(f, params, x, np.array(["a", "b"])),
         "args[1] is an array of <U1; expected numbers: arrays or pytrees of arrays (close over anything else)"),
        (lambda: gradcheck.assert_fn_gradients_close(f, params, {"x": x, "name": "mlp"}, t),
         "args[0]['name'] is a str ('mlp'); expected numbers"),
        (lambda: gradcheck.compare_fn(f, params, x, t, grad=lambda *a: {**grad(*a), "l2": ("w", "b")}),
         "grad leaf ['l2'][0] is a str ('w'); expected an array of a float dtype"),
    ]
    for call, message in cases:
        with pytest.raises(TypeError, match="^" + re.escape(message)) as info:
            call()
        assert "\n" not in str(info.value)
