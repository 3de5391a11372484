"""A search group's optimizer: each member's own, between two multiplications by its mask,
so padding's gradients, state and updates stay exactly 0."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fnnet.structure.member_optim import optimizer_maker
from fnnet.structure.padding import masks
from tests.structure.test_padding import GROUP


@pytest.mark.parametrize("which", range(4))
def test_the_masked_optimizer_leaves_padding_exactly_zero(which):
    # One member's view: its mask, a dense gradient everywhere (padding included), two steps.
    names = ("sgd", "momentum", "adagrad", "adam")
    mask = jax.tree.map(lambda m: jnp.asarray(m[0]), masks(GROUP))
    params = jax.tree.map(lambda m: m * 0.5, mask)
    grads = jax.tree.map(lambda m: jnp.full(m.shape, 0.3, jnp.float32), mask)
    opt = optimizer_maker(names)(jnp.float32(0.1), jnp.float32(0.01), mask, jnp.int32(which))
    with jax.numpy_dtype_promotion("standard"):  # optax's counts (fnnet.optim's note)
        state = opt.init(params)
        for _ in range(2):
            updates, state = opt.update(grads, state, params)
    for u, m in zip(jax.tree.leaves(updates), jax.tree.leaves(mask), strict=True):
        assert (np.asarray(u)[np.asarray(m) == 0] == 0).all()
        if (np.asarray(m) == 1).any():  # the member's own entries do move
            assert (np.asarray(u)[np.asarray(m) == 1] != 0).any()
    for leaf in jax.tree.leaves(state):
        for m in jax.tree.leaves(mask):
            if np.shape(leaf) == np.shape(m) and np.ndim(m) > 1:
                assert (np.asarray(leaf)[np.asarray(m) == 0] == 0).all()
