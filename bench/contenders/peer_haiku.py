"""Haiku as its documentation teaches: ``hk.transform`` of ``hk.nets.MLP`` (or of
``hk.Conv2D``, ``hk.MaxPool``, ``hk.Flatten`` and ``hk.Linear``, channels last), optax,
and an update function under ``jax.jit`` called once per minibatch."""

from __future__ import annotations

import contextlib
import functools

from bench.configs import Config
from bench.contenders.common import (Runner, Skip, Task, donate, jax_activation, jax_loss, optax_optimizer,
                                     per_step_runner)


def _cnn(config: Config, x):
    """The convolutional net's Haiku modules applied to x (inside a transform)."""
    import haiku as hk

    spatial = len(config.in_shape) - 1
    conv = hk.Conv1D if spatial == 1 else hk.Conv2D
    hidden, output = jax_activation(config.activation), jax_activation(config.output)
    for i, spec in enumerate(config.layers):
        kind = spec[0]
        if kind == "conv":
            x = hidden(conv(spec[1], spec[2], padding=spec[3] if len(spec) > 3 else "VALID")(x))
        elif kind in ("maxpool", "avgpool"):
            pool = hk.MaxPool if kind == "maxpool" else hk.AvgPool
            size = (*(spec[1],) * spatial, 1)  # an example's window, channels last (Haiku's unbatched form)
            x = pool(size, size, "VALID")(x)
        elif kind == "flatten":
            x = hk.Flatten()(x)
        else:
            x = (output if i == len(config.layers) - 1 else hidden)(hk.Linear(spec[1])(x))
    return x


def make(task: Task) -> Runner:
    """``hk.nets.MLP`` or the convolutional modules; mixed precision through
    ``hk.mixed_precision`` with a jmp policy."""
    try:
        import haiku as hk
        import jax
        import optax
    except ImportError as e:
        raise Skip(f"haiku not importable ({e})") from None

    config = task.config
    policy = None
    if config.compute_dtype:
        try:
            import jmp
        except ImportError as e:
            raise Skip(f"jmp (Haiku's mixed-precision policies) not importable ({e})") from None
        policy = jmp.get_policy(f"params=float32,compute={config.compute_dtype},output=float32")
    # The notes' network has a sigmoid output as well: the MLP's activation on every layer.
    activate_final = config.output != "identity"

    def forward(x):
        with contextlib.ExitStack() as scope:
            for module in ((hk.Conv1D, hk.Conv2D, hk.Linear) if config.convolutional else (hk.nets.MLP,)):
                if policy:
                    scope.enter_context(hk.mixed_precision.push_policy(module, policy))
            if config.convolutional:
                return _cnn(config, x)
            return hk.nets.MLP(config.sizes[1:], activation=jax_activation(config.activation),
                               activate_final=activate_final)(x)

    net = hk.without_apply_rng(hk.transform(forward))
    optim = optax_optimizer(config)
    params = net.init(jax.random.key(0), task.x_dev[: config.batch])
    opt_state = optim.init(params)

    def loss_fn(params, x, t):
        return jax_loss(config, net.apply(params, x), t)

    @functools.partial(jax.jit, donate_argnums=donate())
    def update(params, opt_state, x, t, idx):
        loss, grads = jax.value_and_grad(loss_fn)(params, x[idx], t[idx])
        updates, opt_state = optim.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return per_step_runner(task, update, (params, opt_state))
