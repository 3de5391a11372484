"""The training state: a fresh one at step 0, epoch 0, its optimizer state optax's own;
the same made inside a compiled program; a plain pytree that flattens and rebuilds."""

import jax
import jax.numpy as jnp
import numpy as np

import fnnet
from fnnet import optim
from fnnet.training.state import fresh_state
from tests.support.nets import NET


def test_a_fresh_state_is_step_0_epoch_0_and_the_optimizers_own_state():
    params, key = NET.init(jax.random.key(0)), jax.random.key(1)
    opt = optim.momentum(0.1, 0.9)
    state = fnnet.init_state(params, opt, key)
    assert int(state.step) == 0 and int(state.epoch) == 0 and state.stopping is None
    assert jax.tree.structure(state.opt_state) == jax.tree.structure(opt.init(params))
    assert all(not np.any(np.asarray(v)) for v in jax.tree.leaves(state.opt_state.v))  # v starts at 0
    np.testing.assert_array_equal(jax.random.key_data(state.key), jax.random.key_data(key))
    for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(params)):
        np.testing.assert_array_equal(a, b)


def test_a_state_made_inside_a_program_is_the_same_and_the_state_is_a_pytree():
    params, key = NET.init(jax.random.key(0)), jax.random.key(1)
    opt = optim.adam(1e-3)
    inside = jax.jit(lambda p, k: fresh_state(opt, p, k))(params, key)
    outside = fnnet.init_state(params, opt, key)
    leaves, treedef = jax.tree.flatten(inside)
    assert jax.tree.structure(outside) == treedef
    rebuilt = jax.tree.unflatten(treedef, leaves)
    assert isinstance(rebuilt, fnnet.TrainState) and rebuilt.epoch.dtype == jnp.int32
    for a, b in zip(jax.tree.leaves(outside), leaves):
        if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
            a, b = jax.random.key_data(a), jax.random.key_data(b)
        np.testing.assert_array_equal(a, b)
