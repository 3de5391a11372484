"""What every contender shares: the task it is handed, the runner it returns, and the
JAX pieces the hand-written and peer contenders have in common (loss, batch indices)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

import numpy as np

from bench.configs import ADAM_LR, SEED_ETA, Config


class Skip(Exception):
    """Raised by a contender's maker when it cannot run here; the message says why."""


@dataclass
class Task:
    """One configuration's work: the network and data every contender trains on.

    ``x``/``t`` are NumPy; ``x_dev``/``t_dev`` the same data on JAX's default device, put
    there once and shared, so no contender pays a host-to-device copy while timed.
    """

    config: Config
    x: np.ndarray
    t: np.ndarray
    epochs: int  # per timed repetition
    accelerator: bool

    @property
    def updates(self) -> int:
        return self.epochs * self.config.steps_per_epoch

    @cached_property
    def x_dev(self):
        import jax
        return jax.device_put(self.x)

    @cached_property
    def t_dev(self):
        import jax
        return jax.device_put(self.t)

    @cached_property
    def x_channels_first(self) -> np.ndarray:
        """``x`` with its channels moved from last to just after the batch axis (what
        PyTorch and Equinox convolutions take), laid out so once, untimed; ``x`` itself for
        a flat input."""
        return np.ascontiguousarray(np.moveaxis(self.x, -1, 1)) if self.x.ndim > 2 else self.x

    @cached_property
    def x_channels_first_dev(self):
        import jax
        return jax.device_put(self.x_channels_first)


@dataclass
class Runner:
    """``run()`` does ``task.updates`` updates and returns once they are done (blocked);
    ``last_loss()`` is a training loss afterwards, a sanity check that it trained."""

    run: Callable[[], object]
    last_loss: Callable[[], float] = field(default=lambda: float("nan"))


def jax_activation(name: str):
    """The jax.nn function for an activation name used by the configurations."""
    import jax
    return {"relu": jax.nn.relu, "sigmoid": jax.nn.sigmoid, "identity": lambda z: z}[name]


def optax_optimizer(config: Config):
    """optax.adam(1e-3), or plain SGD with η = 0.5 for ``worked-example``."""
    import optax
    return optax.sgd(SEED_ETA) if config.optimizer == "sgd" else optax.adam(ADAM_LR)


def jax_loss(config: Config, y, t):
    """The configuration's loss of outputs y (any float dtype; computed in float32):
    mean softmax cross-entropy on integer labels, or the notes' summed ½ (t − y)²."""
    import jax.numpy as jnp
    import optax

    y = y.astype(jnp.float32)
    if config.loss == "squared_error":
        return 0.5 * jnp.sum((t - y) ** 2)
    return optax.softmax_cross_entropy_with_integer_labels(y, t).mean()


def epoch_indices(n: int, batch: int, epoch: int, seed: int = 1) -> np.ndarray:
    """``(n // batch, batch)`` int32 minibatch indices of a per-epoch host permutation, for
    the per-step loops: each step gathers its minibatch from the device-resident data
    inside its jitted step, so only ``batch`` indices cross to the device per step."""
    if n == batch:  # one batch of everything (worked-example): its order changes nothing
        return _whole(n)
    perm = np.random.default_rng((seed, epoch)).permutation(n).astype(np.int32)
    return perm[: n // batch * batch].reshape(-1, batch)


@functools.lru_cache(maxsize=8)
def _whole(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.int32).reshape(1, n)


def donate() -> tuple:
    """Argument numbers to donate (params, optimizer state) on accelerators; CPU ignores
    donation, so none there."""
    import jax
    return (0, 1) if jax.default_backend() != "cpu" else ()


def per_step_runner(task: Task, step, carry: tuple, *, ready=lambda carry: carry, x=None) -> Runner:
    """The loop every per-step contender runs: ``step(*carry, x, t, idx) -> (*carry, loss)``
    once per minibatch of each epoch's order, then a wait for ``ready(carry)`` (what the
    device computes) so the time counts all of it. ``x``: the device data (default
    ``task.x_dev``; ``task.x_channels_first_dev`` for a channels-first library)."""
    import jax

    config, t = task.config, task.t_dev
    x = task.x_dev if x is None else x
    state = {"carry": tuple(carry), "epoch": 0, "loss": None}

    def run():
        carry, loss = state["carry"], None
        for _ in range(task.epochs):
            for idx in epoch_indices(config.examples, config.batch, state["epoch"]):
                *carry, loss = step(*carry, x, t, idx)
            state["epoch"] += 1
        jax.block_until_ready((ready(tuple(carry)), loss))
        state.update(carry=tuple(carry), loss=loss)

    return Runner(run, lambda: float(state["loss"]))
