"""Padding convolutional candidates (fnnet.structure.conv_padding): a member of a padded,
masked group (its channels padded, its kernel centred in the group's largest, its hidden
layer widened) computes and trains exactly like its own network as fnnet train builds it
(float64, to round-off), by jax.grad and by the hand-written backward pass; padding stays
exactly 0."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fnnet import backprop, fit
from fnnet.runs import preparation, settings
from fnnet.structure.conv_padding import ConvGroup, signature
from fnnet.structure.padding import group_candidates, init, masks, pad, unpad
from fnnet.structure.space import Candidate
from fnnet.structure.switch import PoolSwitch
from fnnet.structure.trainer import train_group

IN_SHAPE = (6, 5, 2)
# One signature (a block of stride 1 with max pooling, one hidden layer); kernels 3 and 5,
# channels and widths below the group's; the last has dropout (checked for padding alone).
MEMBERS = (Candidate((4,), "relu", 0.0, "adam", 0.05, 0.01, ((3, 5, 1, "max"),)),
           Candidate((6,), "tanh", 0.0, "momentum", 0.1, 0.0, ((5, 3, 1, "max"),)),
           Candidate((3,), "sigmoid", 0.0, "sgd", 0.3, 1e-3, ((2, 3, 1, "max"),)),
           Candidate((5,), "relu", 0.3, "adam", 0.01, 0.0, ((4, 5, 1, "max"),)))
GROUP = ConvGroup(MEMBERS, IN_SHAPE, 3, channels=(8,), kernels=(5,), widths=(7,))
EXACT = 3  # members without dropout


def _own(c: Candidate, in_shape=IN_SHAPE):
    """``fnnet train``'s network, loss and optimizer for the candidate."""
    config = {**settings.with_defaults(**c.settings()), "in_shape": list(in_shape),
              "in_features": int(np.prod(in_shape)), "classes": [0, 1, 2]}
    return preparation.build(config)


def _data(n=24, in_shape=IN_SHAPE):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, *in_shape)), rng.integers(0, 3, n).astype(np.int32)


def _padding(group, tree, i):
    """Member i's padded entries (mask 0) of every leaf that has any, concatenated."""
    pairs = zip(jax.tree.leaves(tree), jax.tree.leaves(masks(group)), strict=True)
    return np.concatenate([np.asarray(v)[i][np.asarray(m)[i] == 0].ravel() for v, m in pairs if np.ndim(m) > 1])


def _member(tree, i):
    return jax.tree.map(lambda a: a[i], tree)


@pytest.mark.parametrize("members, in_shape", [
    (MEMBERS, IN_SHAPE),
    # Two blocks, strides 2 then 1 (a centred kernel skips no input), no pooling, no hidden layer; 1-D.
    ((Candidate((), "relu", 0.0, "adam", 0.1, 0.0, ((3, 3, 2, "none"), (2, 5, 1, "max"))),
      Candidate((), "leaky_relu", 0.0, "adam", 0.1, 0.0, ((5, 5, 2, "none"), (4, 3, 1, "max")))), (11, 2)),
    # Max and average pooling in one program (PoolSwitch), each member its own.
    ((Candidate((4,), "relu", 0.0, "adam", 0.1, 0.0, ((3, 3, 1, "max"), (2, 3, 1, "avg"))),
      Candidate((5,), "tanh", 0.0, "adam", 0.1, 0.0, ((4, 5, 1, "avg"), (3, 3, 1, "max")))), (8, 6, 1)),
])
def test_a_padded_member_computes_its_own_network_and_its_gradient(members, in_shape, x64):
    group = ConvGroup(members, in_shape, 3)
    pooled = {b[3] for c in members for b in c.conv} - {"none"}
    assert any(isinstance(layer, PoolSwitch) for layer in group.net.layers) == (len(pooled) > 1)
    x, t = _data(5, in_shape)
    own = [_own(c, in_shape) for c in members]
    start = [jax.tree.map(lambda p: p + 0.1, net.init(jax.random.key(i), "float64"))  # non-zero biases too
             for i, (net, _, _) in enumerate(own)]
    padded = pad(group, start)
    loss = own[0][1]

    @jax.jit
    @jax.vmap
    def padded_results(p):  # every member at once: one compiled program
        return (group.net.apply(p, x), jax.grad(lambda p: loss(group.net.apply(p, x), t))(p),
                backprop.loss_and_grad(group.net, loss, p, x, t)[1])

    y_padded, autodiff, hand = padded_results(padded)
    for i, ((net, _, _), params) in enumerate(zip(own, start)):
        assert jax.tree.map(np.shape, unpad(group, padded, i)) == jax.tree.map(np.shape, params)
        for got, want in zip(jax.tree.leaves(unpad(group, padded, i)), jax.tree.leaves(params), strict=True):
            np.testing.assert_array_equal(got, want)
        y, want = jax.jit(lambda p, net=net: (net.apply(p, x), jax.grad(lambda q: loss(net.apply(q, x), t))(p)))(params)
        np.testing.assert_allclose(y_padded[i], y, rtol=1e-12)
        for grads in (autodiff, hand):
            masked = jax.tree.map(lambda g, m: g * m.astype(g.dtype), grads, masks(group))
            for got, w in zip(jax.tree.leaves(unpad(group, masked, i)), jax.tree.leaves(want), strict=True):
                np.testing.assert_allclose(got, w, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("grad", ["autodiff", "backprop"])
def test_padded_members_train_exactly_like_their_own_networks(grad, x64):
    x, t = _data()
    keys = jax.random.split(jax.random.key(0), len(MEMBERS))
    own = [_own(c) for c in MEMBERS]
    start = [net.init(jax.random.key(10 + i), "float64") for i, (net, _, _) in enumerate(own)]
    padded = pad(GROUP, start)
    assert all(not _padding(GROUP, padded, i).any() for i in range(len(MEMBERS)))
    result = train_group(GROUP, (x, t), keys=keys, epochs=2, batch_size=8, grad=grad, params=padded, dtype="float64",
                         per_program=2)
    for i, (net, loss, optimizer) in enumerate(own[:EXACT]):
        alone = fit(net, loss, optimizer, start[i], (x, t), key=jax.random.fold_in(keys[i], 1), epochs=2,
                    batch_size=8, grad=grad)
        for got, want in zip(jax.tree.leaves(unpad(GROUP, result.params, i)), jax.tree.leaves(alone.params),
                             strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-13)
        assert not np.array_equal(jax.tree.leaves(alone.params)[0], jax.tree.leaves(start[i])[0])  # it trained
    for i in range(len(MEMBERS)):  # padded weights never move, dropout or not
        assert (_padding(GROUP, result.params, i) == 0).all()


def test_the_initial_draw_follows_each_members_law_and_is_zero_on_padding():
    wide = (Candidate((64,), "relu", 0.0, "adam", 0.1, 0.0, ((32, 3, 1, "max"),)),
            Candidate((64,), "tanh", 0.0, "adam", 0.1, 0.0, ((16, 5, 1, "max"),)))
    group = ConvGroup(wide, (8, 8, 4), 10, channels=(64,), kernels=(5,), widths=(128,))
    params = init(group, jax.random.split(jax.random.key(0), 2))
    for i, c in enumerate(wide):
        assert (_padding(group, params, i) == 0).all()
        own = unpad(group, params, i)
        w, head = own[0]["w"], own[3]["w"]
        k, channels = c.conv[0][1], c.conv[0][0]
        fan_in, fan_out = k * k * 4, k * k * channels
        want = 2 / fan_in if c.activation == "relu" else 2 / (fan_in + fan_out)  # He, Glorot
        assert w.shape == (k, k, 4, channels) and abs(w.var() / want - 1) < 0.1
        if c.activation == "relu":  # truncated at 2σ, as jax's he_normal
            assert (np.abs(w) < 2 * np.sqrt(2 / fan_in) / 0.8796 + 1e-6).all()
        assert abs(head.var() / (2 / head.shape[0] if c.activation == "relu" else 2 / sum(head.shape)) - 1) < 0.1
        assert float(params[0]["kind"][i]) == group.kinds.index(c.activation)
    again = init(group, jax.random.split(jax.random.key(0), 2))
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(again)))


def test_candidates_group_by_signature_and_reuse_programs_that_hold_them():
    a = Candidate((30,), "relu", 0.0, "adam", 0.1, 0.0, ((5, 3, 1, "max"),))
    b = Candidate((20,), "tanh", 0.0, "sgd", 0.1, 0.0, ((12, 5, 1, "avg"),))  # pools otherwise: one program
    other = Candidate((20,), "tanh", 0.0, "sgd", 0.1, 0.0, ((12, 5, 2, "max"),))  # another stride
    dense = Candidate((20,), "relu", 0.0, "adam", 0.1, 0.0)
    compiled = {}
    grouped = group_candidates([a, dense, b, other], IN_SHAPE, 3, max_width=64, max_channels=64, per_program=2,
                               compiled=compiled)
    assert sorted(idx for idx, _ in grouped) == [[0, 2], [1], [3]]
    one = next(g for idx, g in grouped if idx == [0, 2])
    assert (one.channels, one.kernels, one.widths) == ((16,), (5,), (32,))  # powers of two; the largest kernel
    assert one.poolings == ("max", "avg") and isinstance(one.net.layers[1], PoolSwitch)
    assert compiled[("conv",) + signature(a)] == [((16,), (5,), (32,))]
    narrower = Candidate((9,), "relu", 0.0, "adam", 0.1, 0.0, ((7, 3, 1, "max"),))
    (idx, again), = group_candidates([narrower], IN_SHAPE, 3, max_width=64, max_channels=64, per_program=2,
                                     compiled=compiled)
    assert (again.channels, again.kernels, again.widths) == ((16,), (5,), (32,)) and len(again.members) == 2


@pytest.mark.parametrize("make, message", [
    (lambda: ConvGroup((MEMBERS[0], Candidate((4,), "relu", 0.0, "adam", 0.1, 0.0, ((3, 3, 2, "max"),))), IN_SHAPE, 3),
     "expected convolutional members of one signature"),
    (lambda: ConvGroup(MEMBERS, IN_SHAPE, 3, kernels=(4,)), r"kernels \(4,\) cannot hold members of \(5,\)"),
    (lambda: ConvGroup(MEMBERS, IN_SHAPE, 3, kernels=(6,)), r"kernels \(6,\) cannot centre members' kernels \(5,\)"),
    (lambda: ConvGroup(MEMBERS, IN_SHAPE, 3, channels=(4,)), r"channels \(4,\) cannot hold members of \(5,\)"),
])
def test_groups_that_cannot_hold_their_members_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()
