"""Checkpoints: one file, atomic, no pickle, header and arrays hashed, validated on load;
every optimizer's state round-trips; resumed runs are bitwise identical."""

import io
import json
import os
import re
import stat
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fnnet
from fnnet import AvgPool2D, Conv2D, Dense, Dropout, Flatten, Network, checkpoint, optim
from tests.support.fifo import fifo
from tests.support.nets import CONV_NET, conv_data

NET = Network(4, (Dense(6, "relu"), Dropout(0.3), Dense(3)))
OPT = optim.adam(0.01)


def _state(seed=0, dtype=jnp.float32, opt=OPT):
    return fnnet.init_state(NET.init(jax.random.key(seed), dtype), opt, jax.random.key(seed + 10))


def _data():
    x = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 0).astype(np.int32)


def _raw(x):
    return np.asarray(jax.random.key_data(x)) if jnp.issubdtype(jnp.result_type(x), jax.dtypes.prng_key) \
        else np.asarray(x)


def _equal(a, b):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    return (jax.tree.structure(a) == jax.tree.structure(b) and len(la) == len(lb)
            and all(_raw(x).dtype == _raw(y).dtype and np.array_equal(_raw(x), _raw(y)) for x, y in zip(la, lb)))


def _members(path):
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _write_members(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)


def _npy(array) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _header(path) -> dict:
    with np.load(path, allow_pickle=False) as archive:
        return json.loads(bytes(archive["__header__"]).decode())


def _rewrite_header(path, header, *, rehash=True):
    """Replace the header, recomputing its SHA-256 as a careful forger would."""
    if rehash and isinstance(header, dict):
        with np.load(path, allow_pickle=False) as archive:
            arrays = [archive[f"a{i}"] for i in range(sum(n.startswith("a") for n in archive.files))]
        header = {**header, "sha256": checkpoint._digest(header, arrays)}
    members = _members(path)
    members["__header__.npy"] = _npy(np.frombuffer(json.dumps(header).encode(), np.uint8))
    _write_members(path, members)


# ---------------------------------------------------------------- round trips


def test_round_trip_keeps_everything(tmp_path):
    state = fnnet.fit(NET, "cross_entropy_logits", OPT, _state().params, _data(), key=jax.random.key(3),
                      epochs=2, batch_size=8).state
    path = tmp_path / "c.npz"
    checkpoint.save(path, state, {"note": "hello", "network": NET.to_config()})
    loaded, config = checkpoint.load(path, _state(seed=5))
    assert config == {"note": "hello", "network": NET.to_config()}
    assert _equal(loaded, state)
    assert int(loaded.step) == 10 and int(loaded.epoch) == 2
    assert _equal(checkpoint.load_params(path), state.params)  # no template needed
    assert checkpoint.read_config(path)["note"] == "hello"


def test_python_numbers_round_trip_as_themselves(tmp_path):
    tree = {"lr": 1.5, "steps": 3, "flag": True, "w": jnp.ones(2)}
    checkpoint.save(tmp_path / "t.npz", tree)
    loaded, _ = checkpoint.load(tmp_path / "t.npz", {"lr": 0.0, "steps": 0, "flag": False, "w": jnp.zeros(2)})
    assert loaded["lr"] == 1.5 and loaded["steps"] == 3 and loaded["flag"] is True
    assert type(loaded["lr"]) is float and np.array_equal(loaded["w"], np.ones(2))


def test_plain_params_save_and_load(tmp_path):
    params = NET.init(jax.random.key(1))
    checkpoint.save(tmp_path / "p.npz", params)
    assert _equal(checkpoint.load_params(tmp_path / "p.npz"), params)
    assert _equal(checkpoint.load_params(tmp_path / "p.npz", NET.init(jax.random.key(2))), params)
    loaded, config = checkpoint.load(tmp_path / "p.npz", NET.init(jax.random.key(2)))
    assert _equal(loaded, params) and config is None


def test_early_stopping_progress_is_saved_and_its_best_params_are_the_params(tmp_path):
    stopper = fnnet.EarlyStopping(monitor="val_loss", patience=50)
    x, t = _data()
    result = fnnet.fit(NET, "cross_entropy_logits", OPT, _state().params, (x[:30], t[:30]), key=jax.random.key(3),
                       epochs=6, batch_size=8, validation_data=(x[30:], t[30:]), early_stopping=stopper)
    stopping = result.state.stopping
    assert stopping is not None and int(stopping.best_epoch) == result.best_epoch
    checkpoint.save(tmp_path / "c.npz", result.state)
    template = _state()._replace(stopping=stopper.start(_state().params))
    loaded, _ = checkpoint.load(tmp_path / "c.npz", template)
    assert _equal(loaded, result.state)
    assert loaded.stopping.best.dtype == np.float32 and float(loaded.stopping.best) == float(stopping.best)
    assert _equal(checkpoint.load_params(tmp_path / "c.npz"), result.params)  # the best epoch's
    assert _equal(checkpoint.load_params(tmp_path / "c.npz", best=False), result.state.params)


def _optimizers():
    w_only = optim.weights_only
    yield from [
        ("sgd", optim.sgd(0.1)),
        ("momentum (the notes')", optim.momentum(0.1, 0.9)),
        ("adagrad (the notes')", optim.adagrad(0.1)),
        ("adagrad (optax)", optim.adagrad(0.1, form="optax")),
        ("adam", optim.adam(0.01)),
        ("l1 + l2 + momentum + clip + freeze", optim.optimizer("momentum", 0.1, l1=1e-3, l2=1e-3, clip=1.0,
                                                               frozen=optim.biases_only)),
        ("adagrad + l2 (builder)", optim.optimizer("adagrad", 0.1, l2=1e-3)),
        ("optax.chain", optax.chain(optax.clip(1.0), optax.scale_by_adam(), optax.scale(-0.01))),
        ("optax.masked", optax.masked(optax.adam(0.01), w_only)),
        ("optax.inject_hyperparams", optax.inject_hyperparams(optax.adam)(learning_rate=0.01)),
        ("optax.MultiSteps", optax.MultiSteps(optax.adam(0.01), every_k_schedule=2)),
        ("nested chain of masked momentum", optax.chain(optax.masked(optim.momentum(0.1), w_only),
                                                        optax.masked(optim.adagrad(0.1), optim.biases_only))),
    ]


@pytest.mark.parametrize("name, opt", list(_optimizers()), ids=[n for n, _ in _optimizers()])
def test_every_optimizer_state_round_trips(tmp_path, name, opt):
    with jax.numpy_dtype_promotion("standard"):  # optax's own transforms mix int and float
        state = fnnet.fit(NET, "cross_entropy_logits", opt, _state(opt=opt).params, _data(),
                          key=jax.random.key(3), epochs=2, batch_size=8).state
        path = tmp_path / "c.npz"
        checkpoint.save(path, state, {"optimizer": name})
        loaded, config = checkpoint.load(path, _state(seed=7, opt=opt))
    assert config == {"optimizer": name}
    assert _equal(loaded.opt_state, state.opt_state) and _equal(loaded, state)
    assert len(jax.tree.leaves(state.opt_state)) > 0 or name == "sgd"


def test_resumed_run_is_bitwise_identical(tmp_path):
    whole = fnnet.fit(NET, "cross_entropy_logits", OPT, _state().params, _data(), key=jax.random.key(3),
                      epochs=5, batch_size=8)
    first = fnnet.fit(NET, "cross_entropy_logits", OPT, _state().params, _data(), key=jax.random.key(3),
                      epochs=2, batch_size=8)
    checkpoint.save(tmp_path / "c.npz", first.state)
    state, _ = checkpoint.load(tmp_path / "c.npz", _state(seed=9))
    rest = fnnet.fit(NET, "cross_entropy_logits", OPT, state, _data(), epochs=3, batch_size=8)
    assert _equal(rest.state, whole.state)
    assert [h["loss"] for h in first.history + rest.history] == [h["loss"] for h in whole.history]


def test_bfloat16_and_raw_keys_round_trip(tmp_path):
    params = [{"w": jnp.arange(6, dtype=jnp.bfloat16).reshape(2, 3), "b": jnp.ones(3, jnp.bfloat16)}]
    state = fnnet.TrainState(params, optim.sgd(0.1).init(params), jnp.int32(7), jnp.int32(1),
                             jax.random.PRNGKey(4))
    checkpoint.save(tmp_path / "c.npz", state)
    loaded, _ = checkpoint.load(tmp_path / "c.npz", state)
    assert loaded.params[0]["w"].dtype == jnp.bfloat16 and _equal(loaded, state)


def _old_form(state):
    """A TrainState as fnnet kept it before its state was plain arrays: a typed key, NumPy
    int32 scalars, early stopping's scalars in float64 and int64 (checkpoint.save writes
    these as it always did)."""
    s = state.stopping
    old = None if s is None else fnnet.StoppingState(np.asarray(s.best, np.float64), np.asarray(s.best_epoch, np.int64),
                                                      np.asarray(s.wait, np.int64), s.params)
    return state._replace(step=np.int32(state.step), epoch=np.int32(state.epoch),
                          key=jax.random.wrap_key_data(state.key), stopping=old)


def test_checkpoints_of_the_old_state_form_load_into_the_new_and_resume_bitwise(tmp_path):
    stopper = fnnet.EarlyStopping(monitor="val_loss", patience=50)
    x, t = _data()
    run = dict(batch_size=8, validation_data=(x[30:], t[30:]), early_stopping=stopper)
    first = fnnet.fit(NET, "cross_entropy_logits", OPT, _state().params, (x[:30], t[:30]), key=jax.random.key(3),
                      epochs=3, **run)
    checkpoint.save(tmp_path / "old.npz", _old_form(first.state))
    stored = {leaf["path"]: (leaf["dtype"], leaf["key_impl"]) for leaf in _header(tmp_path / "old.npz")["leaves"]}
    assert stored[".key"] == ("uint32", "threefry2x32")  # the file is in the old form
    assert (stored[".stopping.best"][0], stored[".stopping.best_epoch"][0]) == ("float64", "int64")
    template = _state(seed=9)._replace(stopping=stopper.start(_state().params))
    loaded, _ = checkpoint.load(tmp_path / "old.npz", template)
    assert _equal(loaded, first.state)  # the new forms (raw key, int32, float32), the same values
    assert isinstance(loaded.stopping.wait, np.ndarray) and loaded.stopping.wait.dtype == np.int32
    again = fnnet.fit(NET, "cross_entropy_logits", OPT, loaded, (x[:30], t[:30]), epochs=3, **run)
    going = fnnet.fit(NET, "cross_entropy_logits", OPT, first.state, (x[:30], t[:30]), epochs=3, **run)
    assert _equal(again.state, going.state) and list(again.history) == list(going.history)


def test_an_old_style_template_takes_a_raw_key_and_lossy_old_values_are_refused(tmp_path):
    state = _state()
    checkpoint.save(tmp_path / "c.npz", state)
    loaded, _ = checkpoint.load(tmp_path / "c.npz", _old_form(state))  # its key typed
    assert jnp.issubdtype(loaded.key.dtype, jax.dtypes.prng_key)
    assert np.array_equal(jax.random.key_data(loaded.key), state.key)
    params = _state().params
    template = state._replace(stopping=fnnet.EarlyStopping().start(params))
    for best, wait, message in [(0.1, 1, r"\.stopping\.best: expected float32\[\], found float64\[\]"),
                                (0.5, 2**40, r"\.stopping\.wait: expected int32\[\], found int64\[\]")]:
        old = state._replace(stopping=fnnet.StoppingState(np.asarray(best, np.float64), np.asarray(1, np.int64),
                                                         np.asarray(wait, np.int64), params))
        checkpoint.save(tmp_path / "lossy.npz", old)
        with pytest.raises(checkpoint.CheckpointError, match=message):
            checkpoint.load(tmp_path / "lossy.npz", template)


# ---------------------------------------------------------------- writing


def test_a_crash_while_writing_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    checkpoint.save(path, _state(0))
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="No space left on device") as info:
        checkpoint.save(path, _state(1))
    assert info.value.filename == str(path)  # the target is named, not the temporary file
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["c.npz"]  # no temporary file left behind


def test_a_checkpoint_reads_like_any_file_the_user_writes(tmp_path):
    checkpoint.save(tmp_path / "c.npz", _state())
    (tmp_path / "plain").write_text("x")
    assert stat.S_IMODE((tmp_path / "c.npz").stat().st_mode) == stat.S_IMODE((tmp_path / "plain").stat().st_mode)


# ---------------------------------------------------------------- reading what is not right


def test_truncated_file_is_detected_and_nothing_is_loaded(tmp_path):
    path = tmp_path / "c.npz"
    checkpoint.save(path, _state())
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 200, 10):
        path.write_bytes(data[:cut])
        with pytest.raises(checkpoint.CheckpointError, match="truncated or corrupt.*nothing was loaded"):
            checkpoint.load(path, _state())


def test_flipped_bytes_are_detected(tmp_path):
    path = tmp_path / "c.npz"
    checkpoint.save(path, _state())
    members = _members(path)
    name = next(n for n in members if n.startswith("a0"))
    raw = bytearray(members[name])
    raw[-1] ^= 0xFF
    members[name] = bytes(raw)
    _write_members(path, members)
    with pytest.raises(checkpoint.CheckpointError, match="checksum mismatch"):
        checkpoint.load(path, _state())


def test_an_edited_header_is_detected(tmp_path):
    # Reversing the classes in the header's config went unnoticed when only the arrays were hashed.
    path = tmp_path / "c.npz"
    checkpoint.save(path, _state(), {"classes": [0, 1, 2, 3, 4]})
    header = _header(path)
    header["config"]["classes"].reverse()
    _rewrite_header(path, header, rehash=False)
    with pytest.raises(checkpoint.CheckpointError, match="checksum mismatch"):
        checkpoint.read_config(path)


@pytest.mark.parametrize("edit, message", [
    (lambda h: h["leaves"][0].update(dtype="object"), "leaf 0 is"),
    (lambda h: h["leaves"][0].update(shape=[-1]), "leaf 0 is"),
    (lambda h: h.update(leaves={"a": 1}), "no list of leaves"),
    (lambda h: h.update(config=[1, 2]), "config is a JSON list"),
    (lambda h: h.update(format_version=99), "checkpoint format version 99; this fnnet reads version 2"),
    (lambda h: h.update(format="other"), "format 'other'"),
    (lambda h: h["leaves"][-1].update(key_impl="bogus"), "expected a threefry2x32 key's raw data, found a bogus key"),
    (lambda h: h["leaves"][0].update(shape=[5, 7]), r"\['b'\] is stored as float32\[6\] but the header says float32\[5, 7\]"),
])
def test_malformed_headers_are_checkpoint_errors_naming_the_file(tmp_path, edit, message):
    path = tmp_path / "c.npz"
    checkpoint.save(path, _state())
    header = _header(path)
    edit(header)
    _rewrite_header(path, header)
    with pytest.raises(checkpoint.CheckpointError, match=message) as info:
        checkpoint.load(path, _state())
    assert str(path) in str(info.value)


def test_a_header_that_is_a_json_list_or_has_no_sha256_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "c.npz"
    checkpoint.save(path, _state())
    header = _header(path)
    _rewrite_header(path, [1, 2, 3])
    with pytest.raises(checkpoint.CheckpointError, match="the header is a JSON list"):
        checkpoint.load(path, _state())
    header.pop("sha256")
    _rewrite_header(path, header, rehash=False)
    with pytest.raises(checkpoint.CheckpointError, match="the header has no sha256"):
        checkpoint.load(path, _state())


_JSON = st.recursive(st.none() | st.booleans() | st.integers(-3, 10**10) | st.floats(allow_nan=False)
                     | st.text(max_size=12), lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)


@settings(max_examples=60)
@given(data=st.data())
def test_drawn_header_edits_give_a_checkpoint_error_or_the_original(tmp_path_factory, data):
    """A forger who rewrites any field of the header (and even recomputes its SHA-256)
    gets a CheckpointError, or a load that still fits the template exactly, never
    another exception."""
    path = tmp_path_factory.mktemp("edit") / "c.npz"
    state = _state()
    checkpoint.save(path, state)
    header = _header(path)

    def paths(node, prefix=()):
        yield prefix
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in children:
            yield from paths(v, prefix + (k,))

    where = data.draw(st.sampled_from(list(paths(header))[1:]))
    value = data.draw(_JSON)
    node = header
    for k in where[:-1]:
        node = node[k]
    node[where[-1]] = value
    _rewrite_header(path, header, rehash=data.draw(st.booleans()))
    try:
        loaded, _ = checkpoint.load(path, state)
    except checkpoint.CheckpointError as e:
        assert str(path) in str(e)
    else:
        assert _equal(loaded, state)


def test_a_checkpoint_that_does_not_fit_is_named(tmp_path):
    path = tmp_path / "c.npz"
    checkpoint.save(path, _state())
    other = Network(4, (Dense(7, "relu"), Dropout(0.3), Dense(3)))
    template = fnnet.init_state(other.init(jax.random.key(0)), OPT, jax.random.key(0))
    with pytest.raises(checkpoint.CheckpointError, match=r"\.params\[0\]\['b'\]: expected float32\[7\], found float32\[6\]"):
        checkpoint.load(path, template)
    template = fnnet.init_state(NET.init(jax.random.key(0)), optim.sgd(0.1), jax.random.key(0))
    with pytest.raises(checkpoint.CheckpointError, match="does not fit: expected 7 leaves, found 16; unexpected .*opt_state"):
        checkpoint.load(path, template)


def test_files_that_are_not_checkpoints(tmp_path):
    with pytest.raises(checkpoint.CheckpointError, match="no checkpoint at"):
        checkpoint.load(tmp_path / "missing.npz", _state())
    np.savez(tmp_path / "plain.npz", x=np.ones(3))
    with pytest.raises(checkpoint.CheckpointError, match="not an fnnet checkpoint"):
        checkpoint.load(tmp_path / "plain.npz", _state())
    np.save(tmp_path / "one.npy", np.ones(3))
    with pytest.raises(checkpoint.CheckpointError, match="not an fnnet checkpoint"):
        checkpoint.load(tmp_path / "one.npy", _state())
    (tmp_path / "text.npz").write_text("hello\n")
    with pytest.raises(checkpoint.CheckpointError, match=r"not an .npz archive; it starts with b'hell'") as info:
        checkpoint.load(tmp_path / "text.npz", _state())
    assert "pickle" not in str(info.value)
    np.savez(tmp_path / "pickled.npz", __header__=np.array([{"a": 1}], dtype=object))
    with pytest.raises(checkpoint.CheckpointError, match="holds object \\(pickled\\) data") as info:
        checkpoint.load(tmp_path / "pickled.npz", _state())  # object arrays are never unpickled
    assert "allow_pickle" not in str(info.value) and "pickle.load" not in str(info.value)


# ---------------------------------------------------------------- convolutional nets

# Ends in layers without parameters: their entries ({}) have no leaf to store.
POOLED = Network((6, 6, 1), (Conv2D(3, 3, "relu", padding="SAME"), Dropout(0.2), Conv2D(3, 3, use_bias=False),
                             AvgPool2D(4), Flatten()))


def test_conv_params_round_trip_with_and_without_a_template(tmp_path):
    params = POOLED.init(jax.random.key(1))
    path = tmp_path / "p.npz"
    checkpoint.save(path, params, {"network": POOLED.to_config()})
    assert _equal(checkpoint.load_params(path), params)  # all 5 entries, the last two {}
    loaded, config = checkpoint.load(path, POOLED.init(jax.random.key(2)))
    assert _equal(loaded, params) and Network.from_config(config["network"]) == POOLED
    other = Network((6, 6, 1), (Conv2D(5, 3, "relu", padding="SAME"),) + POOLED.layers[1:])
    with pytest.raises(checkpoint.CheckpointError, match=r"\[0\]\['b'\]: expected float32\[5\], found float32\[3\]"):
        checkpoint.load(path, other.init(jax.random.key(0)))


def test_a_header_without_entries_still_loads_and_a_wrong_count_is_named(tmp_path):
    path = tmp_path / "p.npz"
    params = POOLED.init(jax.random.key(1))
    checkpoint.save(path, params)
    header = _header(path)
    assert header["entries"] == 5
    del header["entries"]  # as fnnet wrote checkpoints before convolutions
    _rewrite_header(path, header)
    assert _equal(checkpoint.load(path, params)[0], params)
    assert len(checkpoint.load_params(path)) == 3  # the layers up to the last with parameters
    for entries, message in [(-1, "entries is -1, expected an int >= 0"),
                             (2, "the header says 2 layers but parameters of layer 2 are stored")]:
        _rewrite_header(path, {**header, "entries": entries})
        with pytest.raises(checkpoint.CheckpointError, match=message):
            checkpoint.load_params(path)


def test_a_conv_nets_train_state_round_trips_and_resumes_bitwise(tmp_path):
    data = conv_data(n=20)
    start = fnnet.init_state(CONV_NET.init(jax.random.key(0)), OPT, jax.random.key(3))
    # A TrainState to start from and a callback: all three fits run one program of one epoch.
    kw = dict(batch_size=8, callback=lambda record, state: None)
    whole = fnnet.fit(CONV_NET, "cross_entropy_logits", OPT, start, data, epochs=2, **kw)
    first = fnnet.fit(CONV_NET, "cross_entropy_logits", OPT, start, data, epochs=1, **kw)
    path = tmp_path / "c.npz"
    checkpoint.save(path, first.state, {"network": CONV_NET.to_config()})
    template = fnnet.init_state(CONV_NET.init(jax.random.key(5)), OPT, jax.random.key(6))
    state, config = checkpoint.load(path, template)
    assert _equal(state, first.state) and len(state.params) == 6
    assert _equal(checkpoint.load_params(path), first.params)
    rest = fnnet.fit(Network.from_config(config["network"]), "cross_entropy_logits", OPT, state, data, epochs=1, **kw)
    assert _equal(rest.state, whole.state)
    assert [h["loss"] for h in first.history + rest.history] == [h["loss"] for h in whole.history]


@pytest.mark.parametrize("leaf, what", [
    ("relu", "a str ('relu')"),
    (object(), "an object (<object object at"),
    (np.array(["a", "b"]), "an array of dtype <U1"),
    (np.array([None, 1.0]), "an array of dtype object"),
], ids=["str", "object", "array of str", "array of objects"])
def test_a_leaf_that_is_not_numbers_is_named_and_nothing_is_written(tmp_path, leaf, what):
    path = tmp_path / "c.npz"
    checkpoint.save(path, _state())
    before = path.read_bytes()
    params = NET.init(jax.random.key(0))
    params[2] = {**params[2], "b": leaf}
    with pytest.raises(TypeError, match=r"^checkpoint\.save: leaf \[2\]\['b'\] is " + re.escape(what)) as info:
        checkpoint.save(path, params)
    assert str(info.value).endswith("; expected an array (or number) of one of bool, int8, int16, int32, int64, "
                                    "uint8, uint16, uint32, uint64, float16, bfloat16, float32, float64, or a PRNG key")
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["c.npz"]


# ---------------------------------------------------------------- hostile files


def test_a_named_pipe_or_a_device_is_refused_before_it_is_opened(tmp_path):
    # g27: open() of a FIFO with no writer waited forever.
    with fifo(tmp_path / "c.npz") as path:
        with pytest.raises(checkpoint.CheckpointError) as e:
            checkpoint.load(path, _state())
        assert str(e.value) == f"{path}: expected a regular file, found a named pipe (FIFO)"
        with pytest.raises(checkpoint.CheckpointError, match=re.escape("found a named pipe (FIFO)")):
            checkpoint.load_params(path)
    with pytest.raises(checkpoint.CheckpointError) as e:
        checkpoint.load_params("/dev/zero")
    assert str(e.value) == "/dev/zero: expected a regular file, found a character device"
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]


def test_an_array_declaring_more_than_it_stores_is_corrupt_before_anything_is_allocated(tmp_path):
    # g29: a header of 10**11 rows over 16 bytes was "out of memory (Unable to allocate 1.46 TiB ...)".
    path = tmp_path / "p.npz"
    checkpoint.save(path, NET.init(jax.random.key(0)))
    members = _members(path)
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f4", "fortran_order": False, "shape": (10**11, 2)})
    members["a0.npy"] = buffer.getvalue() + bytes(16)
    _write_members(path, members)
    with pytest.raises(checkpoint.CheckpointError) as e:
        checkpoint.load_params(path)
    assert str(e.value) == (f"{path} is truncated or corrupt (array a0: its header declares shape (100000000000, 2) "
                            "of float32 (800000000000 bytes) but 16 bytes are stored); nothing was loaded")


def test_a_forged_count_of_layers_is_refused(tmp_path):
    # g28: entries = 10**12 (rehashed, as a careful forger would) built a list of 10**12 dicts.
    path = tmp_path / "p.npz"
    checkpoint.save(path, NET.init(jax.random.key(0)))
    _rewrite_header(path, {**_header(path), "entries": 10**12})
    with pytest.raises(checkpoint.CheckpointError) as e:
        checkpoint.load_params(path)
    assert str(e.value) == (f"{path}: the header's entries says 1000000000000 layers but the stored leaves hold "
                            f"parameters of 3, expected at most {checkpoint._TRAILING} layers without parameters "
                            "after them; nothing was loaded")


def test_a_header_nested_too_deeply_is_corrupt(tmp_path):
    path = tmp_path / "p.npz"
    checkpoint.save(path, NET.init(jax.random.key(0)))
    members = _members(path)
    members["__header__.npy"] = _npy(np.frombuffer(("[" * 100_000 + "]" * 100_000).encode(), np.uint8))
    _write_members(path, members)
    with pytest.raises(checkpoint.CheckpointError) as e:
        checkpoint.load_params(path)
    assert str(e.value) == f"{path} is corrupt (its header is JSON nested too deeply); nothing was loaded"
