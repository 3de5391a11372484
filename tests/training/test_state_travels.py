"""The state travels: fit's and fit_many's states are trees of plain arrays that orbax's
StandardCheckpointer saves and restores, ``jax.device_put`` moves and chex's tree
assertions accept, as they are; a run resumed from any of those copies is bitwise the
run resumed from the original (with and without early stopping, with dropout's keys)."""

import chex
import jax
import numpy as np
import pytest

import fnnet
from fnnet import EarlyStopping, fit, fit_many, optim
from tests.support.nets import LOSS, NET, data

OPT = optim.momentum(0.1, 0.9)
KEY = jax.random.key(1)
TRAIN, VAL = data(), data(n=11, seed=1)
STOPPING = EarlyStopping("val_loss", patience=50)  # never stops here: every resume runs its epochs


def _run(start, *, stopping: bool, epochs: int, **kw):
    extra = dict(validation_data=VAL, early_stopping=STOPPING) if stopping else {}
    return fit(NET, LOSS, OPT, start, TRAIN, epochs=epochs, batch_size=4, **extra, **kw)


@pytest.fixture(scope="module")
def fitted():
    """``{stopping: (FitResult of 3 epochs, the same resumed for 2 more)}``, shared."""
    out = {}
    for stopping in (False, True):
        first = _run(NET.init(jax.random.key(0)), key=KEY, stopping=stopping, epochs=3)
        out[stopping] = first, _run(first.state, stopping=stopping, epochs=2)
    return out


@pytest.fixture(scope="module")
def ensemble():
    """fit_many's result (2 members, dropout) and its member 1's state resumed by fit."""
    keys = jax.random.split(jax.random.key(2), 2)
    result = fit_many(NET, LOSS, OPT, jax.vmap(NET.init)(keys), TRAIN, keys=keys, epochs=2, batch_size=4)
    return keys, result, _resume_member(result.state, 1)


def _resume_member(state, i):
    return fit(NET, LOSS, OPT, jax.tree.map(lambda a: a[i], state), TRAIN, epochs=2, batch_size=4)


@pytest.fixture
def ocp():
    return pytest.importorskip("orbax.checkpoint")


def _bitwise(a, b):
    """The same tree structure, and every leaf the same dtype, shape and bytes."""
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert jax.tree.structure(a) == jax.tree.structure(b) and len(la) == len(lb)
    for x, y in zip(la, lb):
        x, y = np.asarray(x), np.asarray(y)
        assert (x.dtype, x.shape) == (y.dtype, y.shape) and x.tobytes() == y.tobytes()


def _same_resume(got, want):
    """Two FitResults of resumed runs: parameters, the whole state and history bitwise."""
    _bitwise(got.params, want.params)
    _bitwise(got.state, want.state)
    assert list(got.history) == list(want.history) and (got.best_epoch, got.stopped_early) == (
        want.best_epoch, want.stopped_early)


def _orbax_round_trip(ocp, tmp_path, tree, target):
    path = tmp_path / "orbax"
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(path, tree)
        checkpointer.wait_until_finished()
        abstract = {"shape_dtype_struct": lambda: jax.tree.map(ocp.utils.to_shape_dtype_struct, tree),
                    "eval_shape": lambda: jax.eval_shape(lambda s: s, tree),
                    "concrete": lambda: tree}[target]()
        return checkpointer.restore(path, abstract)


# ---------------------------------------------------------------- the forms


@pytest.mark.parametrize("stopping", [False, True], ids=["plain", "early stopping"])
def test_fits_state_is_plain_arrays_in_dtypes_that_survive_32_bit_mode(fitted, stopping):
    state = fitted[stopping][0].state
    chex.assert_tree_has_only_ndarrays(state)  # no NumPy scalar types
    assert all(not jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key) for leaf in jax.tree.leaves(state))
    for count, done in ((state.step, 3 * -(-len(TRAIN[0]) // 4)), (state.epoch, 3)):
        assert count.shape == () and count.dtype == np.int32 and int(count) == done
    np.testing.assert_array_equal(state.key, jax.random.key_data(KEY))  # the run's key, as its raw data
    assert state.key.dtype == np.uint32
    if stopping:
        s = state.stopping
        assert [(a.shape, a.dtype) for a in s[:3]] == [((), np.float32), ((), np.int32), ((), np.int32)]
        assert float(s.best) == min(r["val_loss"] for r in fitted[stopping][0].history)
    else:
        assert state.stopping is None


def test_a_raw_key_runs_what_its_typed_key_runs(fitted):
    raw = _run(NET.init(jax.random.key(0)), key=jax.random.key_data(KEY), stopping=False, epochs=3)
    _same_resume(raw, fitted[False][0])


def test_a_key_of_another_implementation_stays_typed_and_resumes_exactly():
    key = jax.random.key(1, impl="rbg")
    whole = _run(NET.init(jax.random.key(0)), key=key, stopping=False, epochs=2)
    assert str(jax.random.key_impl(whole.state.key)) == "rbg"  # raw data would not say which
    first = _run(NET.init(jax.random.key(0)), key=key, stopping=False, epochs=1)
    rest = _run(first.state, stopping=False, epochs=1)
    _bitwise(jax.random.key_data(rest.state.key), jax.random.key_data(key))
    _bitwise(rest.state._replace(key=None), whole.state._replace(key=None))
    assert list(first.history) + list(rest.history) == list(whole.history)


def test_a_state_saved_with_64_bit_mode_keeps_its_float64_best(x64, tmp_path):
    stopping = EarlyStopping("val_loss", patience=50)
    params = NET.init(jax.random.key(0), np.float64)
    val = tuple(np.asarray(a, np.float64) if a.dtype.kind == "f" else a for a in VAL)
    run = dict(validation_data=val, early_stopping=stopping, batch_size=4)
    first = fit(NET, LOSS, OPT, params, data(dtype=np.float64), key=KEY, epochs=2, **run)
    assert first.state.stopping.best.dtype == np.float64  # the metrics' own precision
    assert float(first.state.stopping.best) == min(r["val_loss"] for r in first.history)
    # fnnet's checkpoint with a template made in this mode: the float64 value as it was
    fnnet.checkpoint.save(tmp_path / "c.npz", first.state)
    template = fnnet.init_state(params, OPT, KEY)._replace(stopping=stopping.start(params))
    loaded, _ = fnnet.checkpoint.load(tmp_path / "c.npz", template)
    _bitwise(loaded, first.state)


# ---------------------------------------------------------------- orbax, device_put, chex


@pytest.mark.parametrize("target", ["shape_dtype_struct", "eval_shape", "concrete"])
@pytest.mark.parametrize("stopping", [False, True], ids=["plain", "early stopping"])
def test_orbax_restores_fits_state_and_the_resumed_run_is_bitwise_the_same(fitted, ocp, tmp_path, stopping, target):
    first, resumed = fitted[stopping]
    restored = _orbax_round_trip(ocp, tmp_path, first.state, target)
    assert isinstance(restored, fnnet.TrainState) and (restored.stopping is None) == (not stopping)
    _bitwise(restored, first.state)
    chex.assert_trees_all_equal(restored, first.state)
    _same_resume(_run(restored, stopping=stopping, epochs=2), resumed)


@pytest.mark.parametrize("stopping", [False, True], ids=["plain", "early stopping"])
def test_device_put_moves_fits_state_and_the_resumed_run_is_bitwise_the_same(fitted, stopping):
    first, resumed = fitted[stopping]
    moved = jax.device_put(first.state)
    chex.assert_tree_is_on_device(moved, device=jax.devices()[0])  # the counters too, not NumPy
    _bitwise(moved, first.state)  # every dtype kept: nothing was 64-bit
    _same_resume(_run(moved, stopping=stopping, epochs=2), resumed)
    # and a state moved back to the host
    _same_resume(_run(jax.device_get(moved), stopping=stopping, epochs=2), resumed)


@pytest.mark.parametrize("stopping", [False, True], ids=["plain", "early stopping"])
def test_chex_tree_assertions_take_fits_state(fitted, stopping):
    state, later = fitted[stopping][0].state, fitted[stopping][1].state
    chex.assert_tree_all_finite(state)
    chex.assert_trees_all_close(state, jax.device_put(state))
    chex.assert_trees_all_equal_shapes_and_dtypes(state, later)
    chex.assert_trees_all_equal_structs(state, later)
    with pytest.raises(AssertionError):  # the assertions look at the values: two epochs later differs
        chex.assert_trees_all_equal(state, later)


# ---------------------------------------------------------------- fit_many


def test_fit_manys_state_is_plain_arrays_with_the_members_raw_keys(ensemble):
    keys, result, _ = ensemble
    state = result.state
    chex.assert_tree_has_only_ndarrays(state)
    chex.assert_tree_shape_prefix(state, (2,))
    np.testing.assert_array_equal(state.key, jax.random.key_data(keys))
    assert state.key.dtype == np.uint32 and state.step.dtype == state.epoch.dtype == np.int32
    chex.assert_tree_all_finite(state)
    chex.assert_trees_all_close(state, jax.device_put(jax.device_get(state)))


@pytest.mark.parametrize("target", ["shape_dtype_struct", "eval_shape"])
def test_orbax_restores_fit_manys_state_and_a_member_resumes_bitwise(ensemble, ocp, tmp_path, target):
    _, result, resumed = ensemble
    restored = _orbax_round_trip(ocp, tmp_path, result.state, target)
    assert isinstance(restored, fnnet.TrainState)
    _bitwise(restored, result.state)
    _same_resume(_resume_member(restored, 1), resumed)


def test_device_put_moves_fit_manys_state_and_a_member_resumes_bitwise(ensemble):
    _, result, resumed = ensemble
    _same_resume(_resume_member(jax.device_put(jax.device_get(result.state)), 1), resumed)
