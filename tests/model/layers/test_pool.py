"""Pooling: max and average over windows are NumPy's, ties in max pooling go to the first
element of the window in apply (so in jax.grad) and in backprop alike, overlapping
windows add their δ, and the hand-written rules equal jax.grad."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fnnet import AvgPool1D, AvgPool2D, Dense, Flatten, MaxPool1D, MaxPool2D, Network, gradcheck
from tests.support import numpy_ref

KINDS = {(np.max, 1): MaxPool1D, (np.max, 2): MaxPool2D, (np.mean, 1): AvgPool1D, (np.mean, 2): AvgPool2D}


@st.composite
def poolings(draw):
    reduce, n = draw(st.sampled_from(sorted(KINDS, key=lambda k: (k[0].__name__, k[1]))))
    window = tuple(draw(st.integers(1, 3)) for _ in range(n))
    stride = draw(st.one_of(st.none(), st.tuples(*[st.integers(1, 3)] * n)))
    spatial = tuple(draw(st.integers(k, k + 4)) for k in window)
    layer = KINDS[reduce, n](window if n == 2 else window[0], stride if n == 2 or stride is None else stride[0])
    return reduce, layer, (*spatial, draw(st.integers(1, 3)))


@settings(max_examples=40)
@given(case=poolings(), seed=st.integers(0, 2**16))
def test_poolings_are_numpys_and_their_backward_rules_equal_jax_grad(case, seed):
    reduce, layer, in_shape = case
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, *in_shape))
    g = rng.normal(size=(2, *layer.out_shape(in_shape)))

    @jax.jit  # one program per draw: op by op, each of the rules' small ops compiles alone
    def rules(x, g):
        a, cache = layer.forward({}, x)
        got, grads = layer.backward({}, cache, layer.delta(cache, g))
        return a, got, grads, jax.grad(lambda x: jnp.sum(layer.forward({}, x)[0] * g))(x)

    with jax.enable_x64(True):
        a, got, grads, want = rules(jnp.asarray(x), jnp.asarray(g))
        np.testing.assert_allclose(a, numpy_ref.pool(x, layer.window, layer.stride, reduce), rtol=1e-13)
        assert a.shape == g.shape
        assert grads == {} and got.shape == x.shape
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("layer", [MaxPool2D(2), MaxPool2D(2, stride=1)], ids=["tiles", "overlapping"])
def test_ties_go_to_the_first_element_in_apply_and_backprop_alike(layer):
    x = jnp.ones((1, 3, 3, 1))  # every element ties
    net = Network((3, 3, 1), (layer,))
    _, cache = layer.forward({}, x)
    ours, _ = layer.backward({}, cache, jnp.ones(cache.winner.shape))
    theirs = jax.grad(lambda x: jnp.sum(net.apply([{}], x)))(x)
    np.testing.assert_array_equal(ours, theirs)
    if layer.stride == (2, 2):  # one window, its top-left element chosen; the rest of the input unread
        np.testing.assert_array_equal(ours[0, :, :, 0], [[1, 0, 0], [0, 0, 0], [0, 0, 0]])
    else:  # four windows, each choosing its top-left element
        np.testing.assert_array_equal(ours[0, :, :, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])


def test_a_nan_wins_its_window_as_in_numpy_and_the_first_one_gets_delta():
    layer = MaxPool1D(4)
    x = jnp.array([[[1.0], [jnp.nan], [3.0], [jnp.nan], [-jnp.inf], [-jnp.inf], [-jnp.inf], [-jnp.inf]]])
    a, cache = layer.forward({}, x)
    np.testing.assert_array_equal(a[0, :, 0], numpy_ref.pool(x, (4,), (4,), np.max)[0, :, 0])  # [nan, -inf]
    ours, _ = layer.backward({}, cache, jnp.ones(a.shape))
    theirs = jax.grad(lambda x: jnp.sum(layer.forward({}, x)[0]))(x)  # routing only: no arithmetic on the NaN
    np.testing.assert_array_equal(ours[0, :, 0], [0, 1, 0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(theirs[0, :, 0], [0, 1, 0, 0, 1, 0, 0, 0])


def test_overlapping_windows_add_their_deltas():
    layer = AvgPool1D(3, stride=1)
    _, cache = layer.forward({}, jnp.zeros((1, 5, 1)))
    got, _ = layer.backward({}, cache, jnp.ones((1, 3, 1)))
    np.testing.assert_allclose(got[0, :, 0], np.array([1, 2, 3, 2, 1]) / 3, rtol=1e-6)


def test_a_pooled_net_passes_the_checker(x64):
    net = Network((6, 5, 2), (MaxPool2D((2, 2), stride=(2, 1)), AvgPool2D(2), Flatten(), Dense(3)))
    assert net.shapes == ((6, 5, 2), (3, 4, 2), (1, 2, 2), (4,), (3,))
    params = jax.tree.map(lambda p: p + 0.1, net.init(jax.random.key(0), jnp.float64))
    x = jax.random.normal(jax.random.key(1), (4, 6, 5, 2), jnp.float64)
    report = gradcheck.assert_gradients_close(net, "cross_entropy_logits", params, x, jnp.arange(4) % 3,
                                              methods=("backprop", "forward"))
    assert report.worst("backprop") < 1e-14
