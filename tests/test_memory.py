"""fnnet.memory: what a run will hold, estimated before it allocates, against the limit."""

import math
import warnings

import jax
import jax.numpy as jnp
import pytest

import fnnet
from fnnet import memory

NETS = {
    "dense": fnnet.mlp([64, 96, 10]),
    "maxout+dropout": fnnet.Network(20, (fnnet.Maxout(12, 3), fnnet.Dropout(0.5), fnnet.Dense(4))),
    "conv": fnnet.Network((8, 8, 1), (fnnet.Conv2D(6, 3, padding="SAME"), fnnet.MaxPool2D(2), fnnet.Flatten(),
                                      fnnet.Dense(10))),
}


@pytest.mark.parametrize("name", NETS)
def test_the_parameter_count_is_what_init_allocates(name):
    net = NETS[name]
    params = net.init(jax.random.key(0))
    assert memory.parameter_count(net) == sum(leaf.size for leaf in jax.tree.leaves(params))


@pytest.mark.parametrize("optimizer", [fnnet.optim.sgd(0.1), fnnet.optim.adam(1e-3), fnnet.optim.momentum(0.1, 0.9),
                                       fnnet.optim.adagrad(0.1)], ids=["sgd", "adam", "momentum", "adagrad"])
def test_the_optimizer_state_is_what_init_allocates(optimizer):
    params = NETS["dense"].init(jax.random.key(0))
    struct = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), params)
    with jax.numpy_dtype_promotion("standard"):
        state = optimizer.init(params)
    assert memory.optimizer_bytes(optimizer, struct) == sum(leaf.nbytes for leaf in jax.tree.leaves(state))


@pytest.mark.parametrize("sizes, batch", [([64, 2048, 10], 128), ([784, 512, 512, 10], 128), ([64, 256, 10], 32)])
def test_a_training_step_estimate_is_close_to_xlas_own_accounting(sizes, batch):
    """One update's estimate against XLA's memory analysis of the compiled step (its
    arguments, outputs and temporaries): the estimate may be generous, never short."""
    net, optimizer = fnnet.mlp(sizes), fnnet.optim.adam(1e-3)
    params = net.init(jax.random.key(0))
    step = fnnet.make_step(net, "cross_entropy_logits", optimizer)
    x, t = jnp.zeros((batch, sizes[0])), jnp.zeros((batch,), jnp.int32)
    analysis = jax.jit(step).lower(params, optimizer.init(params), (x, t), jax.random.key(0)).compile() \
        .memory_analysis()
    xla = (analysis.argument_size_in_bytes + analysis.output_size_in_bytes + analysis.temp_size_in_bytes
           - analysis.alias_size_in_bytes)
    estimate = memory.training(net, optimizer, "float32", examples=batch, batch_size=batch).total
    assert xla <= estimate <= 2 * xla, (estimate, xla)


def test_the_estimate_grows_with_members_batch_and_early_stopping():
    net, optimizer = NETS["dense"], fnnet.optim.adam(1e-3)
    one = memory.training(net, optimizer, "float32", examples=1000, batch_size=32)
    parts = dict(one.parts)
    p = memory.parameter_count(net) * 4
    struct = [{k: jax.ShapeDtypeStruct(v, jnp.float32) for k, v in layer.param_shapes(shape).items()}
              for layer, shape in zip(net.layers, net.shapes)]
    assert parts["parameters"] == 2 * p and parts["gradients"] == p
    assert parts["optimizer state"] == 2 * memory.optimizer_bytes(optimizer, struct) > 2 * 2 * p  # m, v, count
    eight = dict(memory.training(net, optimizer, "float32", examples=1000, batch_size=32, members=8).parts)
    assert eight["parameters"] == 8 * parts["parameters"] and eight["data"] == parts["data"]
    stopping = dict(memory.training(net, optimizer, "float32", examples=1000, batch_size=32,
                                    early_stopping=True).parts)
    assert stopping["early stopping's copy"] == p
    wider = dict(memory.training(net, optimizer, "float32", examples=1000, batch_size=64).parts)
    assert wider["activations"] > parts["activations"]
    half = dict(memory.training(net, optimizer, "bfloat16", examples=1000, batch_size=32).parts)
    assert half["parameters"] * 2 == parts["parameters"]


def test_above_the_limit_is_one_line_naming_the_estimate_the_limit_and_what_to_shrink(monkeypatch):
    monkeypatch.setenv("FNNET_MEMORY_LIMIT", "1M")
    estimate = memory.Estimate((("parameters", 3_000_000), ("activations", 500_000)))
    with pytest.raises(memory.MemoryEstimateError) as e:
        memory.check(estimate, what="fit", shrink="try a smaller batch_size")
    assert str(e.value) == ("fit needs about 3.5 MB (parameters 3.0 MB, activations 500 kB), more than the "
                            "1.0 MB the limit FNNET_MEMORY_LIMIT sets; try a smaller batch_size")
    assert isinstance(e.value, MemoryError)


def test_near_the_limit_is_a_warning_and_well_below_it_nothing(monkeypatch):
    monkeypatch.setenv("FNNET_MEMORY_LIMIT", "1000")
    with pytest.warns(memory.MemoryWarning, match=r"fit needs about 900 B .* 90% of the 1.0 kB the limit"):
        memory.check(memory.Estimate((("parameters", 900),)), what="fit", shrink="shrink it")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        memory.check(memory.Estimate((("parameters", 700),)), what="fit", shrink="shrink it")


def test_network_init_refuses_parameters_larger_than_memory_before_allocating(monkeypatch):
    monkeypatch.setenv("FNNET_MEMORY_LIMIT", "1G")
    net = fnnet.mlp([64, 10 ** 7, 10])  # 740 M parameters: 2.96 GB in float32
    with pytest.raises(MemoryError, match=r"Network.init needs about 3.0 GB \(parameters 3.0 GB\), more than "
                                          r"the 1.0 GB"):
        net.init(jax.random.key(0))


@pytest.mark.parametrize("text, value", [("8G", 8 * 10 ** 9), ("1.5M", 1_500_000), ("4096", 4096), ("2 kB", 2000)])
def test_the_limit_override_reads_sizes(text, value):
    assert memory.parse_size(text) == value


@pytest.mark.parametrize("text", ["lots", "-1G", "8X", "1e9"])
def test_a_bad_limit_override_is_named(monkeypatch, text):
    monkeypatch.setenv("FNNET_MEMORY_LIMIT", text)
    with pytest.raises(ValueError, match=rf"FNNET_MEMORY_LIMIT: expected bytes.*got '{text}'"):
        memory.limit()


def test_the_host_limit_is_positive_and_below_the_machines_memory(monkeypatch):
    monkeypatch.delenv("FNNET_MEMORY_LIMIT", raising=False)
    available, what = memory.limit(jax.devices("cpu")[0])
    total = None
    try:
        with open("/proc/meminfo") as f:
            total = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemTotal:"))
    except OSError:
        pytest.skip("no /proc/meminfo")
    assert what == "host memory available" and 0 < available <= total


def test_sizes_read_as_people_write_them():
    assert [memory.size_text(n) for n in (12, 1_500, 812_000_000, 25_600_000_000, 3e12)] == \
        ["12 B", "1.5 kB", "812 MB", "25.6 GB", "3.0 TB"]
    assert math.isclose(memory.parse_size("25.6G"), 25.6e9)


def _digits_like(n=256, features=64):
    x = jax.random.normal(jax.random.key(1), (n, features))
    return x, jnp.arange(n, dtype=jnp.int32) % 10


def _need(net, optimizer, **sizes):
    return memory.training(net, optimizer, "float32", **sizes).total


def test_fit_refuses_a_run_above_the_limit_before_it_trains(monkeypatch):
    net, optimizer = fnnet.mlp([64, 512, 10]), fnnet.optim.adam(1e-3)
    params = net.init(jax.random.key(0))
    need = _need(net, optimizer, examples=256, batch_size=32)
    monkeypatch.setenv("FNNET_MEMORY_LIMIT", str(need // 2))
    with pytest.raises(memory.MemoryEstimateError, match=r"^fit needs about .* more than the .* the limit "
                                                         r"FNNET_MEMORY_LIMIT sets; try a smaller network, "
                                                         r"batch_size or eval_batch_size$"):
        fnnet.fit(net, "cross_entropy_logits", optimizer, params, _digits_like(), key=jax.random.key(0), epochs=1)
    monkeypatch.setenv("FNNET_MEMORY_LIMIT", str(need * 10))
    result = fnnet.fit(net, "cross_entropy_logits", optimizer, params, _digits_like(), key=jax.random.key(0), epochs=1)
    assert int(result.state.epoch) == 1


def test_fit_many_counts_every_member(monkeypatch):
    net, optimizer = fnnet.mlp([64, 512, 10]), fnnet.optim.adam(1e-3)
    one = _need(net, optimizer, examples=256, batch_size=32)
    monkeypatch.setenv("FNNET_MEMORY_LIMIT", str(3 * one))
    keys = jax.random.split(jax.random.key(0), 16)
    params = jax.vmap(net.init)(keys)
    with pytest.raises(memory.MemoryEstimateError, match=r"^fit_many of 16 members needs about .*; try fewer "
                                                         r"members"):
        fnnet.fit_many(net, "cross_entropy_logits", optimizer, params, _digits_like(), keys=keys, epochs=1)


def test_init_state_refuses_an_optimizer_state_larger_than_what_is_left(monkeypatch):
    net = fnnet.mlp([64, 512, 10])
    params = net.init(jax.random.key(0))
    size = memory.parameter_count(net) * 4
    monkeypatch.setenv("FNNET_MEMORY_LIMIT", str(int(1.5 * size)))  # Adam's two moments are 2x the parameters
    with pytest.raises(memory.MemoryEstimateError, match=r"^init_state needs about .* \(optimizer state "):
        fnnet.init_state(params, fnnet.optim.adam(1e-3), jax.random.key(0))
    state = fnnet.init_state(params, fnnet.optim.sgd(0.1), jax.random.key(0))  # SGD keeps nothing
    assert int(state.step) == 0
