"""fnnet as its users call it: one ``fnnet.fit`` over the data per repetition."""

from __future__ import annotations

from bench.configs import ADAM_LR, SEED_ETA, Config
from bench.contenders.common import Runner, Task


def network(config: Config):
    """The configuration's fnnet network (the worked example's for ``worked-example``)."""
    import fnnet
    from fnnet import worked_example

    if config.name == "worked-example":
        return worked_example.NET
    if config.convolutional:
        return fnnet.Network(config.in_shape, tuple(_layer(config, spec, i == len(config.layers) - 1)
                                                    for i, spec in enumerate(config.layers)),
                             compute_dtype=config.compute_dtype)
    layers = [fnnet.Dense(w, config.activation) for w in config.sizes[1:-1]]
    layers.append(fnnet.Dense(config.sizes[-1], config.output))
    return fnnet.Network(config.sizes[0], tuple(layers), compute_dtype=config.compute_dtype)


def _layer(config: Config, spec: tuple, last: bool):
    """The fnnet layer of one spec of a convolutional configuration."""
    import fnnet

    kind, spatial = spec[0], len(config.in_shape) - 1
    if kind == "conv":
        conv = fnnet.Conv1D if spatial == 1 else fnnet.Conv2D
        return conv(spec[1], spec[2], config.activation, padding=spec[3] if len(spec) > 3 else "VALID")
    if kind in ("maxpool", "avgpool"):
        pool = {("maxpool", 1): fnnet.MaxPool1D, ("maxpool", 2): fnnet.MaxPool2D,
                ("avgpool", 1): fnnet.AvgPool1D, ("avgpool", 2): fnnet.AvgPool2D}[kind, spatial]
        return pool(spec[1])
    if kind == "flatten":
        return fnnet.Flatten()
    return fnnet.Dense(spec[1], config.output if last else config.activation)


def _setup(config: Config):
    """(net, params, loss, optimizer) of the configuration, as fnnet spells them."""
    import jax
    import jax.numpy as jnp
    import fnnet
    from fnnet import worked_example

    net = network(config)
    params = (worked_example.notes_params(jnp.float32) if config.name == "worked-example"
              else net.init(jax.random.key(0), jnp.float32))
    loss = (fnnet.losses.squared_error("sum") if config.loss == "squared_error"
            else fnnet.losses.cross_entropy(from_logits=True))
    # One optimizer object for every call: fit caches its compiled program per
    # (network, loss, optimizer, ...) and optax transformations compare by identity.
    optimizer = fnnet.optim.sgd(SEED_ETA) if config.optimizer == "sgd" else fnnet.optim.adam(ADAM_LR)
    return net, params, loss, optimizer


def _make(task: Task, grad: str) -> Runner:
    import jax
    import fnnet

    config = task.config
    net, params, loss, optimizer = _setup(config)
    data = (task.x_dev, task.t_dev)
    key = jax.random.key(1)
    last = {}

    def run():
        # A fresh run from the same parameters each time: a fixed amount of work.
        result = fnnet.fit(net, loss, optimizer, params, data, key=key,
                           epochs=task.epochs, batch_size=config.batch, grad=grad)
        jax.block_until_ready(result.params)
        last["result"] = result

    return Runner(run, lambda: last["result"].history[-1]["loss"] if last else float("nan"))


def make_autodiff(task: Task) -> Runner:
    """``fit(..., grad="autodiff")``: gradients from jax.grad."""
    return _make(task, "autodiff")


def make_backprop(task: Task) -> Runner:
    """``fit(..., grad="backprop")``: gradients from fnnet's hand-written backward pass."""
    return _make(task, "backprop")


def make_epochs(task: Task) -> Runner:
    """fnnet's compiled epochs called directly, as a user's own loop would:
    ``jax.jit(fnnet.make_epochs(fnnet.make_epoch(...), E))`` on a TrainState, with none of
    fit's per-call validation, state set-up and history."""
    import jax
    import fnnet

    config = task.config
    net, params, loss, optimizer = _setup(config)
    epoch = fnnet.make_epoch(net, loss, optimizer, batch_size=config.batch,
                             accuracy=config.loss != "squared_error")
    program = jax.jit(fnnet.make_epochs(epoch, task.epochs))
    state = {"train": fnnet.init_state(params, optimizer, jax.random.key(1)), "metrics": None}

    def run():
        state["train"], state["metrics"] = program(state["train"], task.x_dev, task.t_dev, None, task.epochs)
        jax.block_until_ready(state["train"])

    return Runner(run, lambda: float(state["metrics"]["loss"][task.epochs - 1]))
