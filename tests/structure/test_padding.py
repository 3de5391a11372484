"""Padding and masking (fnnet.structure.padding): a member of a padded, masked search group trains
exactly like its own unpadded network (float64, to round-off), by jax.grad and by the
hand-written backward pass; padded weights, optimizer state and updates stay exactly 0."""

import jax
import numpy as np
import pytest

from fnnet import fit
from fnnet.runs import preparation, settings
from fnnet.structure.padding import Group, group_candidates, init, masks, pad, unpad
from fnnet.structure.space import Candidate
from fnnet.structure.trainer import train_group

# Every member narrower than the group's (7, 6); the fourth drops out (its draws differ
# from its own network's, so it is checked for padding alone).
MEMBERS = (Candidate((3, 4), "sigmoid", 0.0, "adam", 0.05, 0.01),
           Candidate((6, 2), "relu", 0.0, "momentum", 0.1, 0.0),
           Candidate((4, 5), "maxout", 0.0, "adagrad", 0.1, 1e-3),
           Candidate((5, 3), "sigmoid", 0.3, "sgd", 0.2, 0.0))
GROUP = Group(MEMBERS, 5, 3, widths=(7, 6))
EXACT = 3  # members without dropout


def _own(c: Candidate):
    """``fnnet train``'s network, loss and optimizer for the candidate."""
    config = {**settings.with_defaults(**c.settings()), "in_features": 5, "classes": [0, 1, 2]}
    return preparation.build(config)


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(24, 5)), rng.integers(0, 3, 24).astype(np.int32)


def _padding(tree, i):
    """Member i's padded entries (mask 0) of every leaf that has any, concatenated."""
    pairs = zip(jax.tree.leaves(tree), jax.tree.leaves(masks(GROUP)), strict=True)
    return np.concatenate([np.asarray(v)[i][np.asarray(m)[i] == 0].ravel() for v, m in pairs if np.ndim(m) > 1])


@pytest.mark.parametrize("grad", ["autodiff", "backprop"])
def test_padded_members_train_exactly_like_their_own_networks(grad, x64):
    x, t = _data()
    keys = jax.random.split(jax.random.key(0), len(MEMBERS))
    own = [_own(c) for c in MEMBERS]
    start = [net.init(jax.random.key(10 + i), "float64") for i, (net, _, _) in enumerate(own)]
    padded = pad(GROUP, start)
    assert all(not _padding(padded, i).any() for i in range(len(MEMBERS)))
    result = train_group(GROUP, (x, t), keys=keys, epochs=2, batch_size=8, grad=grad, params=padded, dtype="float64")
    assert jax.tree.leaves(result.params)[0].dtype == np.float64
    for i, (net, loss, optimizer) in enumerate(own[:EXACT]):
        alone = fit(net, loss, optimizer, start[i], (x, t), key=jax.random.fold_in(keys[i], 1), epochs=2,
                    batch_size=8, grad=grad)
        for got, want in zip(jax.tree.leaves(unpad(GROUP, result.params, i)), jax.tree.leaves(alone.params),
                             strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
        assert not np.array_equal(jax.tree.leaves(alone.params)[0], jax.tree.leaves(start[i])[0])  # it trained
    for i in range(len(MEMBERS)):  # padded weights never move, dropout or not
        assert (_padding(result.params, i) == 0).all()
    moved = jax.tree.leaves(unpad(GROUP, result.params, EXACT))[0] - jax.tree.leaves(start[EXACT])[0]
    assert np.abs(moved).max() > 0


def test_the_initial_draw_is_zero_on_padding_and_each_member_keeps_its_kind():
    result = train_group(GROUP, _data(), keys=jax.random.split(jax.random.key(1), len(MEMBERS)), epochs=1,
                         batch_size=8, evaluate={"val": _data()})
    for i, c in enumerate(MEMBERS):
        assert (_padding(result.params, i) == 0).all()
        assert float(result.params[0]["kind"][i]) == GROUP.kinds.index(c.activation)
    assert set(result.accuracy) == {"val"} and result.accuracy["val"].shape == (len(MEMBERS),)


def test_groups_hold_one_depth_and_their_widths_fit():
    with pytest.raises(ValueError, match="one depth"):
        Group((MEMBERS[0], Candidate((3,), "relu", 0.0, "sgd", 0.1, 0.0)), 5, 3)
    with pytest.raises(ValueError, match="cannot hold"):
        Group(MEMBERS, 5, 3, widths=(4, 4))


_COMPILES = []
jax.monitoring.register_event_duration_secs_listener(
    lambda name, secs, **kw: _COMPILES.append(name) if name == "/jax/core/compile/backend_compile_duration" else None)


def _dense(n: int, seed: int, widest: int) -> list:
    rng = np.random.default_rng(seed)
    return [Candidate(tuple(int(w) for w in rng.integers(1, widest + 1, 2)), ("sigmoid", "relu")[i % 2], 0.0,
                      ("sgd", "adam")[i % 2], 0.05, 0.0) for i in range(n)]


def test_a_later_group_that_fits_reuses_the_compiled_program():
    compiled, data = {}, _data()
    [(_, wide)] = group_candidates(_dense(3, 0, 8) + [Candidate((8, 7), "relu", 0.0, "sgd", 0.1, 0.0)], 5, 3,
                                   max_width=8, per_program=2, compiled=compiled)
    [(idx, narrow)] = group_candidates(_dense(5, 1, 4), 5, 3, max_width=8, per_program=2, compiled=compiled)
    assert wide.widths == narrow.widths == (8, 8) and compiled == {(2, False): [(8, 8)]}
    assert len(narrow.members) == 6 and idx == list(range(5))  # rounded up to whole calls
    for group in (wide, narrow):
        keys = jax.random.split(jax.random.key(3), len(group.members))
        before = len(_COMPILES)
        result = train_group(group, data, keys=keys, epochs=1, batch_size=8, evaluate={"val": data}, per_program=2)
        assert result.accuracy["val"].shape == (len(group.members),)
    assert len(_COMPILES) == before  # the narrow group compiled nothing
    [(_, other)] = group_candidates([Candidate((12, 3), "relu", 0.0, "sgd", 0.1, 0.0)], 5, 3, max_width=16, per_program=2,
                                    compiled=compiled)
    assert other.widths == (16, 4) and compiled[(2, False)] == [(8, 8), (16, 4)]  # too wide: its own


def test_the_initial_draw_has_each_members_own_law_and_follows_from_the_keys():
    wide = (Candidate((400,), "relu", 0.0, "sgd", 0.1, 0.0), Candidate((300,), "tanh", 0.0, "sgd", 0.1, 0.0),
            Candidate((200,), "maxout", 0.0, "sgd", 0.1, 0.0))
    group = Group(wide, 64, 10, widths=(512,))
    keys = jax.random.split(jax.random.key(5), 3)
    params = init(group, keys)
    relu, tanh, maxout = (params[0]["w"][i] for i in range(3))
    # He normal truncated at 2 sigma: std sqrt(2 / 64); Glorot uniform: sqrt(6 / (64 + 300)) / sqrt(3).
    np.testing.assert_allclose(relu[:, :400, 0].std(), np.sqrt(2 / 64), rtol=0.03)
    assert np.abs(relu[:, :400, 0]).max() < 2 * np.sqrt(2 / 64) / 0.8796 and (relu[:, 400:] == 0).all()
    np.testing.assert_allclose(tanh[:, :300, 0].std(), np.sqrt(2 / (64 + 300)), rtol=0.03)
    assert np.abs(tanh[:, :300, 0]).max() <= np.sqrt(6 / 364) and (tanh[:, 300:] == 0).all()
    np.testing.assert_allclose(maxout[:, :200, :].std(), np.sqrt(2 / 64), rtol=0.03)
    np.testing.assert_allclose(params[2]["w"][1][:300].std(), np.sqrt(2 / 310), rtol=0.05)  # output: Glorot
    assert (params[2]["w"][1][300:] == 0).all() and not params[0]["b"].any()
    again, other = init(group, keys), init(group, jax.random.split(jax.random.key(6), 3))
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(again)))
    assert not np.array_equal(params[0]["w"], other[0]["w"])
