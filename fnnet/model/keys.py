"""The one check of a PRNG key argument (``fit``'s, ``Network.init``'s, ``apply``'s in
training mode): a typed key of shape (), or a raw uint32 key of the default
implementation's shape, named in fnnet's words rather than JAX's ``prng.py``'s."""

from __future__ import annotations

import functools

import jax
import numpy as np


@functools.lru_cache(maxsize=8)
def raw_shape(impl: str) -> tuple:
    """The raw data shape of one key of the implementation named ``impl`` ((2,) for threefry)."""
    return tuple(jax.eval_shape(lambda: jax.random.key_data(jax.random.key(0))).shape)


def check_key(key, name: str = "key") -> None:
    """A TypeError (not a key at all) or ValueError (a batch of keys, a wrong raw shape)
    unless ``key`` is one typed PRNG key or one raw uint32 key; traced keys are checked by
    their shape and dtype, which tracing knows."""
    shape = raw_shape(jax.config.jax_default_prng_impl)
    dtype = getattr(key, "dtype", None)
    if dtype is not None and not isinstance(key, (np.generic,)) and hasattr(key, "shape"):
        if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
            if tuple(key.shape) == ():
                return
            got = f"a batch of {tuple(key.shape)} typed keys (one key is expected; split it outside, or vmap)"
        elif dtype == np.uint32 and tuple(key.shape) == shape:
            return
        else:
            got = f"an array of {dtype} of shape {tuple(key.shape)}"
        error = ValueError
    else:
        got = f"{type(key).__name__} {key!r}" if isinstance(key, (int, float, np.generic)) else type(key).__name__
        error = TypeError
    raise error(f"{name}: expected a PRNG key (jax.random.key(0), or a raw uint32 key of shape {shape}), got {got}")
