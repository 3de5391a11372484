"""One-file checkpoints of any pytree: written atomically, read without pickle, every
byte covered by a SHA-256, validated on load.

A checkpoint is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays, never object arrays)
holding one array per leaf of a pytree (a TrainState with its optimizer and
early-stopping state, a parameter list, or any tree of arrays) and a JSON header: the
format and its version, the caller's configuration, each leaf's path, shape and dtype
(and PRNG implementation for typed keys), and a SHA-256 over the header itself and
every array's bytes. So an edit to the configuration in the header is caught like a
flipped bit in the weights. The file is written to a temporary file beside the target,
flushed, then renamed over it: a crash leaves the old checkpoint or the new one, never
half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
import zlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from fnnet.loaders.checks import check_regular
from fnnet.loaders.numpy_files import npz_member_problem
from fnnet.storage import atomic

FORMAT = "fnnet-checkpoint"
FORMAT_VERSION = 2
_HEADER = "__header__"
_KINDS = ("params", "TrainState", "pytree")
# What a leaf may be stored as: numbers only (object arrays are never written or read).
_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
           "float16", "bfloat16", "float32", "float64")


class CheckpointError(ValueError):
    """A checkpoint that is missing, truncated, corrupt, of another version, or does not fit."""


def _named_leaves(tree) -> list[tuple[str, Any]]:
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return [(jax.tree_util.keystr(path), leaf) for path, leaf in flat]


def _is_key(x) -> bool:
    # Keys are JAX arrays; asking JAX about anything else (a str, an object) raises its TypeError.
    dtype = getattr(x, "dtype", None)
    try:
        return dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key)
    except TypeError:
        return False


def _kind(tree) -> str:
    if type(tree).__name__ == "TrainState" and hasattr(tree, "_fields"):
        return "TrainState"
    if isinstance(tree, (list, tuple)) and all(isinstance(e, dict) for e in tree):
        return "params"
    return "pytree"


def _entries(tree, kind: str) -> int | None:
    """The layers of a parameter list (of a TrainState's), stored because a layer without
    parameters (Dropout, a pooling, Flatten) has no leaf to say it is there: a list ending
    in such layers could not be rebuilt from the leaves' names alone."""
    params = tree if kind == "params" else getattr(tree, "params", None) if kind == "TrainState" else None
    return len(params) if isinstance(params, (list, tuple)) else None


def _stored(x) -> np.ndarray:
    # bfloat16 and other ml_dtypes are stored as raw bits: .npy readers need no extra types.
    return x.view(np.uint16) if x.dtype.name == "bfloat16" else x


def _described(leaf, value: np.ndarray) -> str:
    """What a leaf that cannot be stored is, in a user's words: "a str ('relu')", "an
    array of dtype <U4", "an object (<object object at ...>)"."""
    if isinstance(leaf, (np.ndarray, np.generic)) or hasattr(leaf, "__array__"):
        return f"an array of dtype {value.dtype}"
    kind, text = type(leaf).__name__, repr(leaf)
    return f"a{'n' * (kind[0] in 'aeiou')} {kind} ({text if len(text) <= 40 else text[:37] + '...'})"


def _digest(header: dict, arrays) -> str:
    """SHA-256 of the header (without its own "sha256", as canonical JSON) and the arrays."""
    h = hashlib.sha256(FORMAT.encode() + b"\0")
    body = {k: v for k, v in header.items() if k != "sha256"}
    h.update(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def save(path, tree, config: dict | None = None) -> None:
    """Write ``tree`` (any pytree of arrays: a TrainState, a parameter list, ...) and
    ``config`` (JSON-ready) to ``path`` atomically; its directory must exist."""
    if config is not None and not isinstance(config, dict):
        raise TypeError(f"checkpoint.save: config must be a dict or None, got {type(config).__name__}")
    leaves, arrays = [], []
    for name, leaf in _named_leaves(tree):
        impl = str(jax.random.key_impl(leaf)) if _is_key(leaf) else None
        value = np.asarray(jax.random.key_data(leaf) if impl else leaf)
        if value.dtype.name not in _DTYPES:
            raise TypeError(f"checkpoint.save: leaf {name or '<root>'} is {_described(leaf, value)}; "
                            f"expected an array (or number) of one of {', '.join(_DTYPES)}, or a PRNG key")
        leaves.append({"path": name, "shape": list(value.shape), "dtype": value.dtype.name, "key_impl": impl})
        arrays.append(_stored(value))
    kind = _kind(tree)
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "tree": kind,
              "config": config, "leaves": leaves}
    entries = _entries(tree, kind)
    if entries is not None:
        header["entries"] = entries
    header["sha256"] = _digest(header, arrays)
    members = {f"a{i}": a for i, a in enumerate(arrays)}
    members[_HEADER] = np.frombuffer(json.dumps(header, sort_keys=True).encode(), np.uint8)
    with atomic.open_for_replace(path, "wb", sync=True) as f:
        np.savez(f, **members)


# ---------------------------------------------------------------- reading


def _header_problem(header) -> str | None:
    """What is wrong with a parsed header, or None."""
    if not isinstance(header, dict):
        return f"the header is a JSON {type(header).__name__}, expected an object"
    if header.get("format") != FORMAT:
        return f"format {header.get('format')!r}, expected {FORMAT!r}"
    if header.get("format_version") != FORMAT_VERSION:
        return (f"checkpoint format version {header.get('format_version')!r}; this fnnet reads "
                f"version {FORMAT_VERSION}")
    if not isinstance(header.get("sha256"), str):
        return "the header has no sha256"
    if header.get("tree") not in _KINDS:
        return f"tree {header.get('tree')!r}, expected one of {list(_KINDS)}"
    entries = header.get("entries")
    if entries is not None and not (type(entries) is int and entries >= 0):
        return f"entries is {entries!r}, expected an int >= 0"
    if header.get("config") is not None and not isinstance(header["config"], dict):
        return f"config is a JSON {type(header['config']).__name__}, expected an object"
    leaves = header.get("leaves")
    if not isinstance(leaves, list):
        return "the header has no list of leaves"
    for i, leaf in enumerate(leaves):
        if not (isinstance(leaf, dict) and isinstance(leaf.get("path"), str)
                and isinstance(leaf.get("shape"), list)
                and all(type(d) is int and d >= 0 for d in leaf["shape"])
                and leaf.get("dtype") in _DTYPES
                and (leaf.get("key_impl") is None or isinstance(leaf["key_impl"], str))):
            return (f"leaf {i} is {leaf!r}; expected {{'path': str, 'shape': [int >= 0, ...], "
                    f"'dtype': one of {list(_DTYPES)}, 'key_impl': str or null}}")
    return None


def _check_member(path, archive, name: str) -> None:
    """A CheckpointError when the array ``name``'s .npy header declares more bytes than its
    zip member stores: NumPy would allocate the declared shape (10**11 rows over 16 bytes)
    before reading a byte."""
    problem = npz_member_problem(archive, name)
    if problem:
        raise CheckpointError(f"{path} is truncated or corrupt (array {name}: {problem}); nothing was loaded")


def _read(path) -> tuple[dict, list[np.ndarray]]:
    """The validated header and the leaves as stored (bfloat16 as its bits)."""
    path = os.fspath(path)
    check_regular(path, CheckpointError)  # a FIFO would hang open(), a device fill memory
    if not os.path.exists(path):
        raise CheckpointError(f"no checkpoint at {path}")
    if os.path.isdir(path):
        raise CheckpointError(f"{path} is a directory, not a checkpoint file")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise CheckpointError(f"{path} cannot be read ({e.strerror})") from None
    if magic != b"PK\x03\x04":  # not a zip: NumPy would try it as a pickle
        raise CheckpointError(f"{path} is not an fnnet checkpoint (not an .npz archive; it starts with "
                              f"{magic!r})")
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise CheckpointError(f"{path} is not an fnnet checkpoint (a single .npy array, no header)")
        with archive:
            if _HEADER not in archive.files:
                raise CheckpointError(f"{path} is not an fnnet checkpoint (no header; found "
                                      f"{sorted(archive.files)[:5]})")
            _check_member(path, archive, _HEADER)
            header = json.loads(bytes(archive[_HEADER]).decode())
            problem = _header_problem(header)
            if problem:
                raise CheckpointError(f"{path} is not a checkpoint this fnnet reads: {problem}; nothing was loaded")
            arrays = []
            for i in range(len(header["leaves"])):
                _check_member(path, archive, f"a{i}")
                arrays.append(archive[f"a{i}"])
    except CheckpointError:
        raise
    except RecursionError:
        raise CheckpointError(f"{path} is corrupt (its header is JSON nested too deeply); nothing was loaded") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, KeyError, OSError, UnicodeDecodeError) as e:
        # NumPy's own text may advise allow_pickle=; an fnnet checkpoint never holds a pickle.
        kind = "holds object (pickled) data" if "pickle" in str(e) else f"is truncated or corrupt ({type(e).__name__})"
        raise CheckpointError(f"{path} {kind}; nothing was loaded") from None
    if _digest(header, arrays) != header["sha256"]:
        raise CheckpointError(f"{path} is corrupt or was edited (checksum mismatch); nothing was loaded")
    values = []
    for a, leaf in zip(arrays, header["leaves"]):
        want = np.dtype(jnp.dtype(leaf["dtype"]))
        stored = np.dtype(np.uint16) if want.name == "bfloat16" else want
        if a.dtype != stored or list(a.shape) != leaf["shape"]:
            raise CheckpointError(f"{path}: leaf {leaf['path']} is stored as {a.dtype}{list(a.shape)} but the "
                                  f"header says {leaf['dtype']}{leaf['shape']}; nothing was loaded")
        values.append(a.view(want) if stored != want else a)
    return header, values


def read_config(path) -> dict | None:
    """The configuration stored with a checkpoint (the whole file is validated)."""
    return _read(path)[0]["config"]


def _restore_leaf(path, leaf, value, want):
    """A stored leaf as the template's leaf ``want`` asks: a key, a device or a host array."""
    name = leaf["path"] or "<root>"
    if _is_key(want):
        impl = str(jax.random.key_impl(want))
        # A plain array is a key's raw data (a TrainState's key since fnnet keeps it raw).
        if leaf["key_impl"] not in (impl, None) or (leaf["key_impl"] is None and value.dtype != np.uint32):
            raise CheckpointError(f"{path}: {name}: expected a {impl} key, found "
                                  f"{leaf['key_impl'] or 'a plain ' + value.dtype.name + ' array'}")
        try:
            key = jax.random.wrap_key_data(value, impl=impl)
        except (ValueError, TypeError, KeyError) as e:
            raise CheckpointError(f"{path}: {name}: not a {impl} key ({e})") from None
        if key.shape != want.shape:
            raise CheckpointError(f"{path}: {name}: expected a key of shape {list(want.shape)}, found "
                                  f"{list(key.shape)}")
        return key
    if leaf["key_impl"] is not None:
        # A typed key (how fnnet saved a TrainState's key before) is read as its raw data
        # where the template has raw data of the default implementation's key.
        default = jax.config.jax_default_prng_impl
        if not _key_data_like(want, value.shape):
            raise CheckpointError(f"{path}: {name}: expected an array, found a {leaf['key_impl']} key")
        if leaf["key_impl"] != default:
            raise CheckpointError(f"{path}: {name}: expected a {default} key's raw data, found a "
                                  f"{leaf['key_impl']} key")
    # Host-side leaves (early stopping's progress, Python numbers) stay NumPy, as the
    # template has them.
    host = isinstance(want, (np.ndarray, np.generic, int, float, bool))
    shape, dtype = tuple(np.shape(want)), (np.asarray(want).dtype if host else jnp.result_type(want))
    if leaf["path"] in _WIDENED and value.shape == shape and value.dtype != dtype:
        value = _exact_cast(value, dtype)
    if value.shape != shape or value.dtype != dtype:
        raise CheckpointError(f"{path}: {name}: expected {dtype.name}{list(shape)}, "
                              f"found {value.dtype.name}{list(value.shape)}")
    if isinstance(want, (int, float, bool)):
        return value.item()
    return value.copy() if host else jnp.asarray(value)


#: Early stopping's scalars, stored as float64 and int64 by fnnet before they became
#: float32 and int32 (float64 in 64-bit mode): read into the template's dtype where that
#: keeps every value exactly.
_WIDENED = (".stopping.best", ".stopping.best_epoch", ".stopping.wait")


def _exact_cast(value: np.ndarray, dtype) -> np.ndarray:
    """``value`` in ``dtype`` if that is a float for a float, an int for an int, and keeps
    every value (NaN included); else ``value`` (the caller names the mismatch)."""
    kinds = {value.dtype.kind, np.dtype(dtype).kind}
    if not (kinds <= set("f") or kinds <= set("iu")):
        return value
    cast = value.astype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        exact = np.array_equal(cast.astype(value.dtype), value, equal_nan=value.dtype.kind == "f")
    return cast if exact else value


def _key_data_like(want, shape) -> bool:
    """Whether ``want`` is raw key data of the default implementation with ``shape``."""
    return (not isinstance(want, (int, float, bool)) and tuple(np.shape(want)) == tuple(shape)
            and jnp.result_type(want) == np.uint32)


def load(path, template) -> tuple[Any, dict | None]:
    """``(tree, config)`` from ``path``. ``template`` (a tree of the same structure, e.g.
    ``fnnet.init_state(net.init(key), optimizer, key)``) gives the structure, shapes and
    dtypes that every stored leaf must match."""
    header, values = _read(path)
    names = [leaf["path"] for leaf in header["leaves"]]
    flat, treedef = jax.tree.flatten(template)
    expected = [name for name, _ in _named_leaves(template)]
    if expected != names:
        missing = [n for n in expected if n not in names][:4]
        extra = [n for n in names if n not in expected][:4]
        raise CheckpointError(f"{path} does not fit: expected {len(expected)} leaves, found {len(names)}"
                              + (f"; missing {missing}" if missing else "")
                              + (f"; unexpected {extra}" if extra else "")
                              + ("; the same leaves in another order" if not (missing or extra) else ""))
    out = [_restore_leaf(path, leaf, value, want) for leaf, value, want in zip(header["leaves"], values, flat)]
    return jax.tree.unflatten(treedef, out), header["config"]


#: Layers without parameters (Dropout, a pooling, Flatten) that may end a parameter list
#: after its last layer with parameters: a header's ``entries`` beyond that is forged.
_TRAILING = 1024


def load_params(path, template=None, *, best: bool = True):
    """The parameters in a checkpoint: a saved parameter list, or a TrainState's (with
    ``best``, the best epoch's parameters when early stopping recorded one). Without a
    template the list of dicts is rebuilt from the stored names and number of entries
    (``{}`` for a layer without parameters); with one, its structure, shapes and dtypes
    are checked."""
    header, values = _read(path)
    leaves = dict(zip((leaf["path"] for leaf in header["leaves"]), zip(header["leaves"], values)))
    if header["tree"] == "params":
        prefix = ""
    elif header["tree"] == "TrainState":
        best_epoch = leaves.get(".stopping.best_epoch")
        prefix = ".stopping.params" if best and best_epoch is not None and int(best_epoch[1]) > 0 else ".params"
    else:
        raise CheckpointError(f"{path} holds a {header['tree']}, not parameters; use checkpoint.load "
                              "with a template")
    group = [(name[len(prefix):], leaf, value) for name, (leaf, value) in leaves.items()
             if name.startswith(prefix + "[")]
    if template is not None:
        expected = [name for name, _ in _named_leaves(template)]
        if expected != [name for name, _, _ in group]:
            raise CheckpointError(f"{path}: the parameters do not fit: expected leaves {expected[:6]}, "
                                  f"found {[name for name, _, _ in group][:6]}")
        flat, treedef = jax.tree.flatten(template)
        return jax.tree.unflatten(treedef, [_restore_leaf(path, leaf, value, want)
                                            for (_, leaf, value), want in zip(group, flat)])
    params: list[dict] = []
    for name, _, value in group:
        # names look like "[3]['w']"
        try:
            index, key = name.split("][")
            index, key = int(index.strip("[")), key.strip("]'\"")
        except ValueError:
            raise CheckpointError(f"{path}: {prefix + name} is not a parameter of a layer list") from None
        while len(params) <= index:
            params.append({})
        params[index][key] = jnp.asarray(value)
    entries = header.get("entries", len(params))  # absent from checkpoints of fnnet before convolutions
    if entries < len(params):
        raise CheckpointError(f"{path}: the header says {entries} layers but parameters of layer {len(params) - 1} "
                              "are stored; nothing was loaded")
    if entries - len(params) > _TRAILING:
        raise CheckpointError(f"{path}: the header's entries says {entries} layers but the stored leaves hold "
                              f"parameters of {len(params)}, expected at most {_TRAILING} layers without parameters "
                              "after them; nothing was loaded")
    return params + [{} for _ in range(entries - len(params))]  # trailing layers without parameters
