"""One-file checkpoints: written atomically, read without pickle, validated on load.

A checkpoint is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays, never object arrays)
holding every leaf of a TrainState (parameters, optimizer state, step, epoch, and the
key's raw data), optionally a second parameter tree (e.g. the best epoch's), and a JSON
header with the format version, the run's configuration, each leaf's name, shape and
dtype, and a SHA-256 of all array bytes. It is written to a temporary file in the same
directory, flushed to disk, then renamed over the target, so a crash leaves either the
old checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from fnnet.train import TrainState

FORMAT = "fnnet-checkpoint"
FORMAT_VERSION = 1
_HEADER = "__header__"


class CheckpointError(ValueError):
    """A checkpoint that is missing, truncated, corrupt, of another version, or does not fit."""


def _leaves(prefix: str, tree) -> list[tuple[str, Any]]:
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return [(prefix + jax.tree_util.keystr(path), leaf) for path, leaf in flat]


def _is_key(x) -> bool:
    return jnp.issubdtype(jnp.result_type(x), jax.dtypes.prng_key)


def _to_numpy(x) -> np.ndarray:
    x = np.asarray(x)
    # bfloat16 and other ml_dtypes are stored as raw bits: .npy readers need no extra types.
    return x.view(np.uint16) if x.dtype.kind == "V" or x.dtype.name == "bfloat16" else x


def save(path, state: TrainState, config: dict | None = None, *, extra_params=None) -> None:
    """Write ``state`` (and ``extra_params``, e.g. the best epoch's parameters) with
    ``config`` (JSON-ready) to ``path``, atomically."""
    key = state.key
    key_impl = str(jax.random.key_impl(key)) if _is_key(key) else None
    key_data = jax.random.key_data(key) if key_impl else key
    named = (_leaves("params", state.params) + _leaves("opt_state", state.opt_state)
             + [("step", state.step), ("epoch", state.epoch), ("key", key_data)])
    if extra_params is not None:
        named += _leaves("extra_params", extra_params)
    arrays, leaves, digest = {}, [], hashlib.sha256()
    for i, (name, leaf) in enumerate(named):
        value = np.asarray(leaf)
        stored = _to_numpy(value)
        arrays[f"a{i}"] = stored
        digest.update(np.ascontiguousarray(stored).tobytes())
        leaves.append({"name": name, "shape": list(value.shape), "dtype": value.dtype.name})
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "config": config or {},
              "key_impl": key_impl, "has_extra_params": extra_params is not None,
              "leaves": leaves, "sha256": digest.hexdigest()}
    arrays[_HEADER] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".checkpoint-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable
        dir_fd = os.open(directory, os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _read(path) -> tuple[dict, list[np.ndarray]]:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if _HEADER not in archive.files:
                raise CheckpointError(f"{path} is not an fnnet checkpoint (no header; found "
                                      f"{sorted(archive.files)[:5]})")
            header = json.loads(archive[_HEADER].tobytes().decode())
            if header.get("format") != FORMAT:
                raise CheckpointError(f"{path} is not an fnnet checkpoint (format {header.get('format')!r})")
            if header.get("format_version") != FORMAT_VERSION:
                raise CheckpointError(f"{path} has checkpoint format version {header.get('format_version')}; "
                                      f"this fnnet reads version {FORMAT_VERSION}")
            arrays = [archive[f"a{i}"] for i in range(len(header["leaves"]))]
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, ValueError, KeyError, OSError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path} is truncated or corrupt ({type(e).__name__}: {e}); "
                              "nothing was loaded") from None
    digest = hashlib.sha256()
    for a in arrays:
        digest.update(np.ascontiguousarray(a).tobytes())
    if digest.hexdigest() != header["sha256"]:
        raise CheckpointError(f"{path} is corrupt (checksum mismatch); nothing was loaded")
    values = []
    for a, leaf in zip(arrays, header["leaves"]):
        dtype = jnp.dtype(leaf["dtype"])
        values.append(a.view(dtype) if a.dtype != dtype else a)
    return header, values


def read_config(path) -> dict:
    """The configuration stored with a checkpoint (validates the whole file)."""
    return _read(path)[0]["config"]


def _fill(template, names, values, prefix, path):
    flat, treedef = jax.tree.flatten(template)
    expected = [n for n, _ in _leaves(prefix, template)]
    if expected != names:
        raise CheckpointError(f"{path}: {prefix} does not fit: expected leaves {expected[:6]}"
                              f"{' ...' if len(expected) > 6 else ''}, found {names[:6]}"
                              f"{' ...' if len(names) > 6 else ''}")
    out = []
    for name, want, got in zip(names, flat, values):
        want_shape, want_dtype = tuple(jnp.shape(want)), jnp.result_type(want)
        if got.shape != want_shape or got.dtype != want_dtype:
            raise CheckpointError(f"{path}: {name}: expected {want_dtype.name}{list(want_shape)}, "
                                  f"found {got.dtype.name}{list(got.shape)}")
        out.append(jnp.asarray(got))
    return jax.tree.unflatten(treedef, out)


def _group(header, values, prefix):
    pairs = [(leaf["name"], v) for leaf, v in zip(header["leaves"], values)
             if leaf["name"] == prefix or leaf["name"].startswith(prefix + "[")]
    return [n for n, _ in pairs], [v for _, v in pairs]


def load(path, template: TrainState) -> tuple[TrainState, dict]:
    """``(state, config)`` from ``path``; ``template`` (a TrainState of the same network and
    optimizer, e.g. from ``train.init_state``) gives the tree structure, shapes and dtypes
    that every stored leaf must match."""
    header, values = _read(path)
    params = _fill(template.params, *_group(header, values, "params"), "params", path)
    opt_state = _fill(template.opt_state, *_group(header, values, "opt_state"), "opt_state", path)
    scalars = {n: v for n, v in zip(*_group(header, values, "step"))}
    scalars.update(zip(*_group(header, values, "epoch")))
    key_names, key_values = _group(header, values, "key")
    if set(scalars) != {"step", "epoch"} or len(key_values) != 1:
        raise CheckpointError(f"{path}: missing step, epoch or key")
    key = key_values[0]
    key = jax.random.wrap_key_data(key, impl=header["key_impl"]) if header["key_impl"] else jnp.asarray(key)
    state = TrainState(params, opt_state, jnp.asarray(scalars["step"], jnp.int32),
                       jnp.asarray(scalars["epoch"], jnp.int32), key)
    return state, header["config"]


def load_params(path, template=None, *, extra: bool = False):
    """The parameter tree stored at ``path`` (``extra=True``: the extra one, e.g. the best
    epoch's). Without a template it is rebuilt from the stored names (a list of dicts);
    with one, its structure, shapes and dtypes are checked."""
    header, values = _read(path)
    prefix = "extra_params" if extra else "params"
    if extra and not header["has_extra_params"]:
        raise CheckpointError(f"{path} holds no extra parameters")
    names, arrays = _group(header, values, prefix)
    if template is not None:
        return _fill(template, names, arrays, prefix, path)
    params: list[dict] = []
    for name, array in zip(names, arrays):
        # names look like "params[3]['w']"
        index, key = name[len(prefix):].split("][")
        index, key = int(index.strip("[")), key.strip("]'\"")
        while len(params) <= index:
            params.append({})
        params[index][key] = jnp.asarray(array)
    return params
