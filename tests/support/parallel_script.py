"""Data-parallel checks on 8 virtual CPU devices, run by tests/training/test_parallel.py in a
process of its own (the device count is fixed when jax is imported). Prints one
"name value" line per check and "OK" last; a failed check raises (non-zero exit)."""

import os
import re
import sys

os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from jax.sharding import NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")

import dataclasses  # noqa: E402

import fnnet  # noqa: E402
from fnnet import DivergenceError, evaluate, fit, make_step, parallel  # noqa: E402
from fnnet.training.epochs import epochs_program  # noqa: E402
from fnnet.training.fit_plan import _program  # noqa: E402

RTOL, ATOL = 1e-5, 1e-6


def max_diff(a, b):
    return max(float(np.max(np.abs(np.asarray(u, np.float64) - np.asarray(v, np.float64))))
               for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def close(name, a, b):
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=RTOL, atol=ATOL, err_msg=name)
    print(name, f"{max_diff(a, b):.3e}", flush=True)


def error(name, fn, pattern):
    try:
        fn()
    except ValueError as e:
        assert re.search(pattern, str(e)), (name, str(e))
        print(name, "raised:", str(e).splitlines()[0], flush=True)
        return
    raise AssertionError(f"{name}: no ValueError")


def main():
    assert len(jax.devices()) == 8, jax.devices()
    rng = np.random.default_rng(0)
    n, B = 27, 8  # 3 full batches and a padded partial one
    x = rng.normal(size=(n, 5)).astype(np.float32)
    t = rng.integers(0, 3, size=n).astype(np.int32)
    xv = rng.normal(size=(13, 5)).astype(np.float32)
    tv = rng.integers(0, 3, size=13).astype(np.int32)
    wts = rng.uniform(0.5, 2.0, size=n).astype(np.float32)
    net = fnnet.mlp([5, 16, 3], "tanh")
    params = net.init(jax.random.key(1))
    opt = optax.adam(1e-2)
    kw = dict(key=jax.random.key(2), epochs=3, batch_size=B, validation_data=(xv, tv), eval_batch_size=6)
    single = fit(net, "cross_entropy_logits", opt, params, (x, t), **kw)
    single_w = fit(net, "cross_entropy_logits", opt, params, (x, t, wts), **kw)
    ref_eval = evaluate(net, "cross_entropy_logits", single.params, (xv, tv), batch_size=6)
    wv = rng.uniform(0.5, 2.0, size=13).astype(np.float32)
    ref_eval_w = evaluate(net, "cross_entropy_logits", single.params, (xv, tv, wv), batch_size=6)

    for explicit in (True, False):
        kind = "explicit" if explicit else "auto"
        mesh = parallel.data_mesh(explicit=explicit)
        got = fit(net, "cross_entropy_logits", opt, params, (x, t), mesh=mesh, **kw)
        close(f"fit_{kind}", got.params, single.params)
        for col in ("loss", "val_loss", "accuracy", "val_accuracy"):
            close(f"history_{col}_{kind}", got.history.column(col), single.history.column(col))
        if explicit:  # the same code on an auto mesh
            got_w = fit(net, "cross_entropy_logits", opt, params, (x, t, wts), mesh=mesh, **kw)
            close(f"fit_weighted_{kind}", got_w.params, single_w.params)
            # A run that resumes on the mesh is the run done at once.
            half = fit(net, "cross_entropy_logits", opt, params, (x, t), mesh=mesh, **{**kw, "epochs": 1})
            rest = fit(net, "cross_entropy_logits", opt, half.state, (x, t), mesh=mesh, **{**kw, "epochs": 2})
            close(f"fit_resumed_{kind}", rest.params, single.params)
        # One batch of everything (n == batch_size: no shuffle).
        one = fit(net, "cross_entropy_logits", opt, params, (x[:24], t[:24]), **{**kw, "batch_size": 24})
        got = fit(net, "cross_entropy_logits", opt, params, (x[:24], t[:24]), mesh=mesh,
                  **{**kw, "batch_size": 24})
        close(f"fit_full_batch_{kind}", got.params, one.params)
        on_mesh = evaluate(net, "cross_entropy_logits", single.params, (xv, tv), mesh=mesh, batch_size=6)
        close(f"evaluate_{kind}", [on_mesh["loss"], on_mesh["accuracy"]], [ref_eval["loss"], ref_eval["accuracy"]])
        on_mesh = evaluate(net, "cross_entropy_logits", single.params, (xv, tv, wv), mesh=mesh, batch_size=6)
        close(f"evaluate_weighted_{kind}", [on_mesh["loss"], on_mesh["accuracy"]],
              [ref_eval_w["loss"], ref_eval_w["accuracy"]])

        # The compiled epoch's dots work on B/8 = 1 example per device.
        spec, _ = _program(
            net, fnnet.losses.get("cross_entropy_logits"), opt, B, "autodiff", True, 6, None, 1, True)
        sharded = epochs_program(dataclasses.replace(spec, sharding=parallel.batch_sharding(mesh)), 1, fresh=True)
        rep = parallel.replicate(parallel.batch_sharding(mesh), (params, kw["key"], jnp.asarray(x), jnp.asarray(t),
                                                                 (jnp.asarray(xv), jnp.asarray(tv))))
        with jax.set_mesh(mesh):
            hlo = sharded.__wrapped__.lower((), *rep, jnp.asarray(1, jnp.int32)).compile().as_text()
        dots = re.findall(r"= (f32\[[0-9,]*\])[^ ]* (?:dot|convolution)\(", hlo)
        assert dots and all(d in ("f32[1,16]", "f32[1,3]", "f32[16,3]", "f32[5,16]") for d in dots), dots
        assert "f32[1,5]" in hlo and "f32[8,5]" not in hlo, "per-device minibatch is not (1, 5)"
        print(f"hlo_dots_{kind}", sorted(set(dots)), flush=True)

    # shard_map + make_step(grad_reduce=pmean) is the single-device step.
    mesh = parallel.data_mesh()
    step = make_step(net, "cross_entropy_logits", opt)
    pstep = make_step(net, "cross_entropy_logits", opt, grad_reduce=lambda g: jax.lax.pmean(g, "data"))
    sharded = jax.jit(jax.shard_map(pstep, mesh=mesh, in_specs=(P(), P(), P("data"), P()),
                                    out_specs=(P(), P(), P())))
    opt_state = opt.init(params)
    batch = (jnp.asarray(x[:B]), jnp.asarray(t[:B]))
    ref = jax.jit(step)(params, opt_state, batch, jax.random.key(3))
    rp, ro, rb, rk = parallel.replicate(parallel.batch_sharding(mesh), (params, opt_state, batch, jax.random.key(3)))
    rb = jax.device_put(rb, NamedSharding(mesh, P("data")))
    got = sharded(rp, ro, rb, rk)
    close("shard_map_step_params", got[0], ref[0])
    close("shard_map_step_metrics", [got[2]["loss"], got[2]["accuracy"]], [ref[2]["loss"], ref[2]["accuracy"]])

    error("error_batch", lambda: fit(net, "cross_entropy_logits", opt, params, (x, t), mesh=mesh,
                                     **{**kw, "batch_size": 6}),
          r"^batch_size 6 is not divisible by the 8 devices of mesh axis 'data'$")
    other = parallel.data_mesh(axis="batch")
    error("error_axis", lambda: fit(net, "cross_entropy_logits", opt, params, (x, t), mesh=other, **kw),
          r"mesh has no axis 'data'")
    named = fit(net, "cross_entropy_logits", opt, params, (x, t), mesh=parallel.batch_sharding(other, "batch"),
                **kw)
    close("fit_named_axis", named.params, single.params)
    # Divergence on the mesh: the replay names the update, as on one device.
    sgd = optax.sgd(optax.piecewise_constant_schedule(0.01, {7: 1e6}))
    messages = []
    for m in (None, mesh):
        try:
            fit(net, fnnet.losses.squared_error("sum"), sgd, params, (x, jax.nn.one_hot(t, 3)), mesh=m,
                key=jax.random.key(2), epochs=5, batch_size=B)
        except DivergenceError as e:
            messages.append((str(e), e.epoch, e.step, max_diff(e.params, params) > 0))
    assert len(messages) == 2 and messages[0] == messages[1], messages
    print("divergence", messages[1][0].split(";")[0])
    ensembles()
    convolutions()
    print("OK")


def ensembles():
    """fit_many on a 2 x 4 mesh (members x data shards) equals the unsharded ensemble."""
    from fnnet.training import ensemble

    net = fnnet.Network(5, (fnnet.Dense(16, "relu"), fnnet.Dropout(0.2), fnnet.Dense(3)))
    rng = np.random.default_rng(1)
    x, xv = rng.normal(size=(36, 5)).astype(np.float32), rng.normal(size=(13, 5)).astype(np.float32)
    t, tv = rng.integers(0, 3, 36).astype(np.int32), rng.integers(0, 3, 13).astype(np.int32)
    params = jax.vmap(net.init)(jax.random.split(jax.random.key(0), 4))

    def make(learning_rate, l2):
        return optax.chain(fnnet.optim.l2(l2), fnnet.optim.sgd(learning_rate))

    hp = {"learning_rate": np.array([0.05, 0.1, 0.2, 0.3], np.float32),
          "l2": np.array([0, 1e-3, 1e-2, 0.1], np.float32), "dropout": np.array([0, .2, .4, .6], np.float32)}
    kw = dict(keys=jax.random.split(jax.random.key(1), 4), epochs=3, batch_size=8, hyperparams=hp,
              validation_data=(xv, tv))
    alone = fnnet.fit_many(net, "cross_entropy_logits", make, params, (x, t), **kw)
    for kind in ("explicit", "auto"):
        mesh = jax.make_mesh((2, 4), ("members", "data"), (getattr(jax.sharding.AxisType, kind.title()),) * 2)
        r = fnnet.fit_many(net, "cross_entropy_logits", make, params, (x, t), mesh=mesh, **kw)
        close(f"ensemble_2d_{kind}", r.params, alone.params)
        close(f"ensemble_2d_history_{kind}", [[h[k] for k in sorted(h)] for hs in r.histories for h in hs],
              [[h[k] for k in sorted(h)] for hs in alone.histories for h in hs])
        assert r.params[0]["w"].sharding.spec == P("members"), r.params[0]["w"].sharding
    # What each device computes: 2 of the 4 members, 2 of each minibatch's 8 rows.
    shardings = ensemble.members_mesh(mesh, 4, 8)
    names, values = ensemble.check_hyperparams(hp, 4, np.dtype(np.float32))
    lifted, floats = ensemble.lifted_optimizer(make, names, values, params)
    start, run, _ = ensemble._programs(net, fnnet.losses.get("cross_entropy_logits"), lifted, names, 8,
                                       "autodiff", True, 1024, None, 4, shardings)
    state = start(floats, *jax.device_put((params, kw["keys"], values), shardings[0]))
    data = parallel.replicate(shardings[0], (x, t, (xv, tv), None))
    with jax.set_mesh(shardings[0].mesh):
        hlo = run.__wrapped__.lower(floats, state, values, *data, np.int32(3)).compile().as_text()
    dots = sorted(set(re.findall(r"= (f32\[[0-9,]*\])[^ ]* dot\(", hlo)))
    # (f32[4,32]: XLA fuses the 2 members' validation matmuls over 4 rows into one.)
    assert "f32[2,2,16]" in dots and all(d.startswith("f32[2,") for d in dots if d.count(",") == 2), dots
    assert not any(re.search(r"[\[,](8|36)[,\]]", d) for d in dots), dots  # no whole minibatch or data set
    print("ensemble_2d_dots", dots, flush=True)
    error("ensemble_error_members", lambda: ensemble.fit_many(
        net, "cross_entropy_logits", make, params, (x, t), mesh=jax.make_mesh((8,), ("members",)), **kw),
        r"^4 members are not divisible by the 8 devices of mesh axis 'members'$")
    error("ensemble_error_axis", lambda: ensemble.fit_many(
        net, "cross_entropy_logits", make, params, (x, t), mesh=parallel.data_mesh(), **kw),
        r"^mesh has no axis 'members' to split the members along")


def _conv_problem(net, seed):
    rng = np.random.default_rng(seed)
    x, xv = (rng.normal(size=(m, *net.in_shape)).astype(np.float32) for m in (27, 13))
    return net.init(jax.random.key(1)), (x, rng.integers(0, 3, 27).astype(np.int32)), (xv, rng.integers(0, 3, 13))


def convolutions():
    """Conv nets on the 8 devices: fit (jax.grad and the hand-written pass) and evaluate
    equal one device, each device convolving its B/8 examples; under explicit axes, the
    user's own jit of apply and jax.grad too."""
    net = fnnet.Network((6, 6, 1), (fnnet.Conv2D(3, 3, "relu", padding="SAME"), fnnet.MaxPool2D(2),
                                    fnnet.Conv2D(4, 2, "tanh"), fnnet.Flatten(), fnnet.Dropout(0.2), fnnet.Dense(3)))
    line = fnnet.Network((9, 2), (fnnet.Conv1D(3, 3, "tanh", stride=2, padding="SAME"), fnnet.AvgPool1D(2, stride=1),
                                  fnnet.Flatten(), fnnet.Dense(3)))
    loss, opt = "cross_entropy_logits", optax.adam(1e-2)
    explicit = parallel.data_mesh()
    # Explicit axes only: fit runs both kinds on auto axes (parallel.auto_axes), which the
    # MLP above checks; the hand-written pass failed on explicit ones before.
    for name, n, runs in [("conv", net, [("autodiff", "explicit"), ("backprop", "explicit")]),
                          ("conv1d", line, [("backprop", "explicit")])]:
        params, data, val = _conv_problem(n, 2)
        kw = dict(key=jax.random.key(2), epochs=2, batch_size=8, validation_data=val, eval_batch_size=6)
        for grad, kind in runs:
            single = fit(n, loss, opt, params, data, grad=grad, **kw)
            got = fit(n, loss, opt, params, data, grad=grad, mesh=parallel.data_mesh(explicit=kind == "explicit"),
                      **kw)
            close(f"{name}_fit_{grad}_{kind}", got.params, single.params)
            close(f"{name}_history_{grad}_{kind}", [got.history.column(c) for c in ("loss", "val_loss")],
                  [single.history.column(c) for c in ("loss", "val_loss")])

    params, (x, t), (xv, tv) = _conv_problem(net, 2)
    ref = evaluate(net, loss, params, (xv, tv), batch_size=6)
    on_mesh = evaluate(net, loss, params, (xv, tv), mesh=explicit, batch_size=6)
    close("conv_evaluate", [on_mesh["loss"], on_mesh["accuracy"]], [ref["loss"], ref["accuracy"]])
    # What each device computes: one example of each minibatch of 8 (fit runs on the mesh's
    # auto-axes copy, parallel.auto_axes).
    spec, _ = _program(net, fnnet.losses.get(loss), opt, 8, "backprop", True, 6, None, 1, True)
    sharding = parallel.auto_axes(parallel.batch_sharding(explicit))
    sharded = epochs_program(dataclasses.replace(spec, sharding=sharding), 1, fresh=True)
    rep = parallel.replicate(sharding, (params, jax.random.key(2), jnp.asarray(x), jnp.asarray(t),
                                        (jnp.asarray(xv), jnp.asarray(tv))))
    with jax.set_mesh(sharding.mesh):
        hlo = sharded.__wrapped__.lower((), *rep, jnp.asarray(1, jnp.int32)).compile().as_text()
    # On CPU a convolution runs as its patches (a concatenation) times a matrix
    # (fnnet/model/layers/conv.py), elsewhere as a convolution: each shows the per-device batch.
    convs = sorted(set(re.findall(r"= (f32\[[0-9,]*\])[^ ]* (?:convolution|concatenate)\(", hlo)))
    assert convs and not any(c.startswith("f32[8,") for c in convs), convs
    assert "f32[1,6,6,1]" in hlo and "f32[8,6,6,1]" not in hlo, "per-device minibatch is not (1, 6, 6, 1)"
    print("conv_hlo_convolutions", convs, flush=True)
    # A user's own jit under explicit axes (a pooling's reshapes split one axis at a time).
    objective = jax.value_and_grad(lambda p, x, t: fnnet.losses.get(loss)(net.apply(p, x), t))
    xs, ts = jax.device_put((jnp.asarray(x[:8]), jnp.asarray(t[:8])), NamedSharding(explicit, P("data")))
    with jax.set_mesh(explicit):
        got = jax.jit(objective)(jax.device_put(params, NamedSharding(explicit, P())), xs, ts)
    close("conv_grad_explicit", got, jax.jit(objective)(params, x[:8], t[:8]))


if __name__ == "__main__":
    main()
