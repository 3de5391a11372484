"""The benchmark's convolutional configurations: every contender builds the same network
from a configuration's layer specs, the FLOP count is the documented one, the targets
for convolutions are checked and rendered, and a quick run trains them (a smoke test: no
timing is asserted)."""

import importlib.util
import json
import math

import jax
import numpy as np
import pytest

from bench import results, run, targets
from bench.configs import CONFIGS, Config, make_data
from bench.contenders import fnnet_fit, pure_jax

CONVOLUTIONAL = [name for name, c in CONFIGS.items() if c.convolutional]


def _peer_builders(config: Config) -> dict:
    """Per installed peer, ``(parameter count, output shape of two examples)`` of the
    network it builds, without training anything (JAX libraries by ``jax.eval_shape``)."""
    import jax.numpy as jnp

    x = jnp.zeros((2, *config.in_shape), jnp.float32)
    x_first = jnp.moveaxis(x, -1, 1)  # the layout Equinox and PyTorch convolutions take
    out = {}
    if importlib.util.find_spec("equinox"):
        import equinox as eqx
        from bench.contenders import peer_equinox

        model = peer_equinox._cnn(config, jax.random.key(0))
        y = jax.eval_shape(jax.vmap(model), x_first)
        out["equinox"] = (sum(a.size for a in jax.tree.leaves(eqx.filter(model, eqx.is_array))), y.shape)
    if importlib.util.find_spec("flax"):
        from flax import nnx
        from bench.contenders import peer_flax

        model = nnx.eval_shape(lambda: nnx.Sequential(*peer_flax._layers(config, nnx.Rngs(0))))
        y = jax.eval_shape(lambda m, x: m(x), model, x)
        out["flax"] = (sum(a.size for a in jax.tree.leaves(nnx.state(model, nnx.Param))), y.shape)
    if importlib.util.find_spec("haiku"):
        import haiku as hk
        from bench.contenders import peer_haiku

        net = hk.without_apply_rng(hk.transform(lambda x: peer_haiku._cnn(config, x)))
        params = jax.eval_shape(net.init, jax.random.key(0), x)
        y = jax.eval_shape(net.apply, params, x)
        out["haiku"] = (sum(a.size for a in jax.tree.leaves(params)), y.shape)
    if importlib.util.find_spec("torch"):
        import torch
        from bench.contenders import peer_torch

        model = torch.nn.Sequential(*peer_torch._cnn(config))
        with torch.device("meta"):  # shapes only: no memory, no arithmetic
            y = model.to("meta")(torch.empty(tuple(x_first.shape), device="meta"))
        out["torch"] = (sum(p.numel() for p in model.parameters()), tuple(y.shape))
    return out


@pytest.mark.parametrize("name", CONVOLUTIONAL)
def test_every_contender_builds_the_configurations_network(name):
    config = CONFIGS[name]
    net = fnnet_fit.network(config)
    # The configuration's own shape walk (the FLOP count's) is fnnet's, layer by layer.
    assert net.shapes == (config.in_shape, *(out for _, _, out in config.shapes()))
    assert net.compute_dtype == config.compute_dtype
    want = sum(math.prod(s) for layer, shape in zip(net.layers, net.shapes) for s in layer.param_shapes(shape).values())
    scan = jax.eval_shape(lambda: pure_jax.init_cnn(jax.random.key(0), config))
    assert sum(a.size for a in jax.tree.leaves(scan)) == want
    y = jax.eval_shape(lambda p, x: pure_jax.apply_cnn(config, p, x), scan,
                       jax.ShapeDtypeStruct((2, *config.in_shape), np.float32))
    assert y.shape == (2, config.classes) and y.dtype == np.float32
    for peer, (count, shape) in _peer_builders(config).items():
        assert (count, tuple(shape)) == (want, (2, config.classes)), peer


def test_a_convolutions_flops_are_counted_per_output_position_kernel_tap_and_channel_pair():
    # digits-cnn: 8x8 SAME conv 1->16 (k3), pool to 4x4, SAME conv 16->32, pool to 2x2, dense 128->10.
    per_example = 8 * 8 * 9 * 1 * 16 + 4 * 4 * 9 * 16 * 32 + 2 * 2 * 32 * 10
    assert CONFIGS["digits-cnn"].flops_per_update() == 6 * 32 * per_example == 16_171_008
    # VALID convolutions shrink: lenet's 28x28 -> 24x24 (k5), pooled 12x12 -> 8x8, pooled 4x4.
    lenet = 24 * 24 * 25 * 1 * 6 + 8 * 8 * 25 * 6 * 16 + 256 * 120 + 120 * 84 + 84 * 10
    assert CONFIGS["lenet"].flops_per_update() == 6 * 128 * lenet
    assert CONFIGS["conv1d"].flops_per_update() == 6 * 64 * (36 * 5 * 16 + 14 * 5 * 16 * 32 + 7 * 32 * 10)
    # The MLPs' count is unchanged.
    assert CONFIGS["digits"].flops_per_update() == 6 * 32 * (64 * 128 + 128 * 10)


@pytest.mark.parametrize("spec, message", [
    ((("conv", 4, 3), ("dense", 10)), "dense after flatten"),
    ((("conv", 4, 9), ("flatten",), ("dense", 10)), "leaves nothing"),
    ((("conv", 4, 3), ("flatten",)), "the last layer must be dense"),
])
def test_a_layer_spec_that_does_not_fit_is_named_when_the_configuration_is_made(spec, message):
    with pytest.raises(ValueError, match=message):
        Config("bad", None, in_shape=(8, 8, 1), layers=spec, batch=4, examples=8, epochs=1, accel_epochs=1)
    with pytest.raises(ValueError, match="give sizes"):
        Config("both", (64, 10), in_shape=(8, 8, 1), layers=spec, batch=4, examples=8, epochs=1, accel_epochs=1)


def test_image_data_come_channels_last_and_the_channels_first_copy_is_the_same_values():
    from bench.contenders import Task

    config = CONFIGS["digits-cnn"]
    x, t = make_data(config)
    assert x.shape == (config.examples, 8, 8, 1) and x.dtype == np.float32 and t.max() < config.classes
    task = Task(config, x, t, 1, False)
    np.testing.assert_array_equal(task.x_channels_first, np.moveaxis(x, -1, 1))
    assert task.x_channels_first.flags.c_contiguous


def _row(config, key, us):
    names = {"fnnet": "fnnet fit", "fnnet-backprop": "fnnet fit (backprop)", "scan": "pure-JAX scan",
             "per-step": "per-step jit", "torch": "PyTorch eager"}
    return {"config": config, "key": key, "contender": names[key], "us_per_update": us}


def test_convolutions_targets_backprop_against_fit_and_fit_against_every_per_step_loop():
    rows = [_row("lenet", "fnnet", 10.0), _row("lenet", "fnnet-backprop", 10.4), _row("lenet", "scan", 30.0),
            _row("lenet", "per-step", 9.0), _row("lenet", "torch", 20.0),
            _row("digits", "fnnet", 10.0), _row("digits", "fnnet-backprop", 20.0), _row("digits", "per-step", 5.0)]
    got = {(r["config"], r["subject"], r["versus"]): r for r in targets.check(rows, on_cpu=True)}
    backprop = got["lenet", "fnnet fit (backprop)", "fnnet fit"]
    assert backprop["got"] == pytest.approx(10 / 10.4) and backprop["met"]  # 0.96: within 5%
    assert backprop["got_backprop"] is None and backprop["ceiling_gets"] is None
    per_step = got["lenet", "fnnet fit", "per-step jit"]
    assert per_step["got"] == pytest.approx(0.9) and not per_step["met"]
    assert got["lenet", "fnnet fit", "PyTorch eager"]["met"]
    assert got["lenet", "fnnet fit", "pure-JAX scan"]["got"] == pytest.approx(3.0)
    # The MLP configurations have none of these.
    assert not [k for k in got if k[0] == "digits" and k[2] in ("fnnet fit", "per-step jit")]
    text = targets.lines(list(got.values()))
    assert "\nlenet      fnnet fit (backprop) vs fnnet fit          need >= 0.95  got 0.962x  MET\n" in text
    assert ("\nlenet      fnnet fit            vs per-step jit       need >= 1     got 0.9x    MISSED "
            "(backprop 0.865x, ") in text
    doc = {"device": {"platform": "cpu", "kind": "cpu", "host": "h", "host_cpus": 2}, "date": "d",
           "versions": {k: "v" for k in ("jax", "optax", "flax", "equinox", "dm-haiku", "torch")},
           "timing": {"repeats": 3}, "matmul_peak": {}, "flop_count": "f", "configs": [], "rows": [],
           "skipped": [], "notes": [], "targets": list(got.values())}
    rendered = results.render([doc])
    assert "| lenet: fnnet fit (backprop) vs fnnet fit | 0.95× |  | 0.962× |  |  | yes |" in rendered
    assert "| lenet vs per-step jit | 1× | 0.9× |" in rendered


def test_a_quick_run_trains_a_convolutional_config_both_ways_alike(tmp_path, capsys):
    out = tmp_path / "conv.json"
    # In-process, so the bench's JAX code runs under the tests' strict dtype promotion.
    assert run.main(["--quick", "--config", "conv1d", "--contenders", "fnnet,fnnet-backprop", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "== conv1d: 40x1 conv16k5-maxpool2-conv32k5-maxpool2-flatten-dense10 relu, batch 64" in printed
    doc = json.loads(out.read_text())
    assert [c["name"] for c in doc["configs"]] == ["conv1d"] and doc["configs"][0]["layers"][0] == ["conv", 16, 5]
    losses = {r["key"]: r["last_loss"] for r in doc["rows"]}
    assert set(losses) == {"fnnet", "fnnet-backprop", "scan"}
    # The same parameters, data and updates: the hand-written backward pass trains as jax.grad does.
    assert losses["fnnet-backprop"] == pytest.approx(losses["fnnet"], rel=1e-5)
    assert all(0 < loss < 10 for loss in losses.values())
