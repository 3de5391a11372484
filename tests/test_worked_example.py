"""The notes' worked example, figure by figure, in float64."""


import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fnnet import worked_example as we


def numpy_run(steps, *, train_biases=False, notes_order=False):
    """The notes' 2-2-2 network in plain NumPy: (E_total after each step, final outputs)."""
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    w1 = np.array([[.15, .25], [.20, .30]])
    w2 = np.array([[.40, .50], [.45, .55]])
    b1, b2 = np.full(2, .35), np.full(2, .60)
    x, t = np.array([.05, .10]), np.array([.01, .99])
    errors = []
    for _ in range(steps):
        h = sig(x @ w1 + b1)
        o = sig(h @ w2 + b2)
        d2 = (o - t) * o * (1 - o)
        w2_new = w2 - 0.5 * np.outer(h, d2)
        d1 = (d2 @ (w2_new if notes_order else w2).T) * h * (1 - h)
        w1, w2 = w1 - 0.5 * np.outer(x, d1), w2_new
        if train_biases:
            b1, b2 = b1 - 0.5 * d1, b2 - 0.5 * d2
        o = sig(sig(x @ w1 + b1) @ w2 + b2)
        errors.append(0.5 * np.sum((t - o) ** 2))
    return np.array(errors), o


@pytest.fixture(scope="module")
def report():
    return we.report()


@pytest.mark.parametrize("name", [k for k in we.NOTES_QUOTES if k[0] in "nowdE" and "after" not in k])
def test_forward_pass_gradients_and_updated_weights_match_the_seed(report, name):
    quoted = we.NOTES_QUOTES[name]
    digits = len(repr(quoted).split(".")[1])
    assert report[name] == pytest.approx(quoted, abs=0.6 * 10 ** -digits)


def test_gradient_descent_figures(report):
    r = report["gradient_descent"]
    errors, out = numpy_run(10_000)
    assert r["E_after_1"] == pytest.approx(0.2910277737, abs=1e-9)
    assert r["E_after_10000"] == pytest.approx(3.51019e-5, abs=1e-9)
    assert r["out_o1"] == pytest.approx(0.0159136, abs=1e-7)
    assert r["out_o2"] == pytest.approx(0.9840643, abs=1e-7)
    # and to round-off against the NumPy run
    assert r["E_after_1"] == pytest.approx(errors[0], abs=1e-12)
    assert r["E_after_10000"] == pytest.approx(errors[-1], abs=1e-12)
    assert (r["out_o1"], r["out_o2"]) == pytest.approx(tuple(out), abs=1e-10)


def test_the_notes_figures_come_from_their_code_order(report):
    r = report["notes_order"]
    errors, out = numpy_run(10_000, notes_order=True)
    assert r["E_after_1"] == pytest.approx(we.NOTES_QUOTES["E_after_1"], abs=1e-9)
    assert r["E_after_10000"] == pytest.approx(we.NOTES_QUOTES["E_after_10000"], abs=1e-9)
    assert r["out_o1"] == pytest.approx(we.NOTES_QUOTES["out_o1_after_10000"], abs=1e-9)
    assert r["out_o2"] == pytest.approx(we.NOTES_QUOTES["out_o2_after_10000"], abs=1e-9)
    assert r["E_after_10000"] == pytest.approx(errors[-1], abs=1e-12)
    # the correct run after 9,999 updates is not the notes' 0.000035085
    assert abs(report["gradient_descent"]["E_after_9999"] - 0.000035085) > 2e-8


def test_biases_trained_too(report):
    r = report["biases_trained"]
    errors, _ = numpy_run(10_000, train_biases=True)
    assert r["E_after_1"] == pytest.approx(0.280471447, abs=1e-9)
    assert r["E_after_10000"] == pytest.approx(2.44756e-6, abs=1e-9)
    assert r["E_after_10000"] == pytest.approx(errors[-1], abs=1e-12)


def test_updates_run_as_one_compiled_loop():
    with jax.enable_x64(True):
        params = we.notes_params()
        jaxpr = jax.make_jaxpr(lambda p: we.train(p, 100))(params)
    text = str(jaxpr)
    assert "scan" in text or "while" in text
    assert text.count("dot_general") < 20  # the step is traced once, not 100 times


def test_bad_order_is_named():
    with pytest.raises(ValueError, match=r"order: expected one of \['simultaneous', 'notes'\]"):
        we.train(we.notes_params(jnp.float32), 1, order="random")
