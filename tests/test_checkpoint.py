"""Checkpoints: one file, atomic, no pickle, validated; resumed runs are bitwise identical."""

import os
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fnnet import Dense, Dropout, Network, checkpoint, optim, train

NET = Network(4, (Dense(6, "relu"), Dropout(0.3), Dense(3)))
OPT = optim.adam(0.01)


def _state(seed=0, dtype=jnp.float32):
    return train.init_state(NET.init(jax.random.key(seed), dtype), OPT, jax.random.key(seed + 10))


def _data():
    x = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 0).astype(np.int32)


def _equal(a, b):
    la = [np.asarray(jax.random.key_data(v)) if jnp.issubdtype(v.dtype, jax.dtypes.prng_key) else np.asarray(v)
          for v in jax.tree.leaves(a)]
    lb = [np.asarray(jax.random.key_data(v)) if jnp.issubdtype(v.dtype, jax.dtypes.prng_key) else np.asarray(v)
          for v in jax.tree.leaves(b)]
    return len(la) == len(lb) and all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(la, lb))


def test_round_trip_keeps_everything(tmp_path):
    state = train.fit(NET, "cross_entropy_logits", OPT, _state().params, _data(), key=jax.random.key(3),
                      epochs=2, batch_size=8).state
    path = tmp_path / "c.npz"
    checkpoint.save(path, state, {"note": "hello", "network": NET.to_config()}, extra_params=state.params)
    loaded, config = checkpoint.load(path, _state(seed=5))
    assert config == {"note": "hello", "network": NET.to_config()}
    assert _equal(loaded, state)
    assert int(loaded.step) == 10 and int(loaded.epoch) == 2
    assert _equal(checkpoint.load_params(path), state.params)  # no template needed
    assert _equal(checkpoint.load_params(path, extra=True), state.params)
    assert checkpoint.read_config(path)["note"] == "hello"


def test_resumed_run_is_bitwise_identical(tmp_path):
    whole = train.fit(NET, "cross_entropy_logits", OPT, _state().params, _data(), key=jax.random.key(3),
                      epochs=5, batch_size=8)
    first = train.fit(NET, "cross_entropy_logits", OPT, _state().params, _data(), key=jax.random.key(3),
                      epochs=2, batch_size=8)
    checkpoint.save(tmp_path / "c.npz", first.state)
    state, _ = checkpoint.load(tmp_path / "c.npz", _state(seed=9))
    rest = train.fit(NET, "cross_entropy_logits", OPT, state, _data(), epochs=3, batch_size=8)
    assert _equal(rest.state, whole.state)
    assert [h["loss"] for h in first.history + rest.history] == [h["loss"] for h in whole.history]


def test_bfloat16_and_raw_keys_round_trip(tmp_path):
    params = [{"w": jnp.arange(6, dtype=jnp.bfloat16).reshape(2, 3), "b": jnp.ones(3, jnp.bfloat16)}]
    state = train.TrainState(params, optim.sgd(0.1).init(params), jnp.int32(7), jnp.int32(1),
                             jax.random.PRNGKey(4))
    checkpoint.save(tmp_path / "c.npz", state)
    loaded, _ = checkpoint.load(tmp_path / "c.npz", state)
    assert loaded.params[0]["w"].dtype == jnp.bfloat16 and _equal(loaded, state)


def test_a_crash_while_writing_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    checkpoint.save(path, _state(0))
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(path, _state(1))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["c.npz"]  # no temporary file left behind


def test_truncated_file_is_detected_and_nothing_is_loaded(tmp_path):
    path = tmp_path / "c.npz"
    checkpoint.save(path, _state())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(checkpoint.CheckpointError, match="truncated or corrupt.*nothing was loaded"):
        checkpoint.load(path, _state())


def test_flipped_bytes_are_detected(tmp_path):
    path = tmp_path / "c.npz"
    checkpoint.save(path, _state())
    # rewrite one array with different contents but a valid zip: only the checksum notices
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    name = next(n for n in members if n.startswith("a0"))
    raw = bytearray(members[name])
    raw[-1] ^= 0xFF
    members[name] = bytes(raw)
    with zipfile.ZipFile(path, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    with pytest.raises(checkpoint.CheckpointError, match="checksum mismatch"):
        checkpoint.load(path, _state())


def test_a_checkpoint_that_does_not_fit_is_named(tmp_path):
    path = tmp_path / "c.npz"
    checkpoint.save(path, _state())
    other = Network(4, (Dense(7, "relu"), Dropout(0.3), Dense(3)))
    template = train.init_state(other.init(jax.random.key(0)), OPT, jax.random.key(0))
    with pytest.raises(checkpoint.CheckpointError, match=r"params\[0\]\['b'\]: expected float32\[7\], found float32\[6\]"):
        checkpoint.load(path, template)
    template = train.init_state(NET.init(jax.random.key(0)), optim.sgd(0.1), jax.random.key(0))
    with pytest.raises(checkpoint.CheckpointError, match="opt_state does not fit"):
        checkpoint.load(path, template)


def test_files_that_are_not_checkpoints(tmp_path):
    with pytest.raises(checkpoint.CheckpointError, match="no checkpoint at"):
        checkpoint.load(tmp_path / "missing.npz", _state())
    np.savez(tmp_path / "plain.npz", x=np.ones(3))
    with pytest.raises(checkpoint.CheckpointError, match="not an fnnet checkpoint"):
        checkpoint.load(tmp_path / "plain.npz", _state())
    np.savez(tmp_path / "pickled.npz", __header__=np.array([{"a": 1}], dtype=object))
    with pytest.raises(checkpoint.CheckpointError, match="truncated or corrupt"):
        checkpoint.load(tmp_path / "pickled.npz", _state())  # object arrays are never unpickled


def test_another_format_version_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "FORMAT_VERSION", 99)
    checkpoint.save(tmp_path / "c.npz", _state())
    monkeypatch.setattr(checkpoint, "FORMAT_VERSION", 1)
    with pytest.raises(checkpoint.CheckpointError, match="format version 99; this fnnet reads version 1"):
        checkpoint.load(tmp_path / "c.npz", _state())
