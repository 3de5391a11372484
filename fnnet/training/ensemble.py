"""Ensembles and sweeps: N networks of one shape trained in one compiled program (``jax.vmap``
over the members: seeds, initial parameters, optimizer hyperparameters), each the run
``fnnet.fit`` makes alone (to round-off: a batched matmul may sum in another order), with
early stopping and divergence per member; the arguments of such a run checked (stacked
parameter trees, leading axis N, per-member keys and hyperparameters, meshes); and the
ensemble's prediction, the mean of its members' probabilities."""

from __future__ import annotations

import concurrent.futures
import functools
import os
import threading
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P

from fnnet import memory
from fnnet.model import losses as losses_
from fnnet.model.layers.dropout import Dropout
from fnnet.model.network import Network
from fnnet.training import coefficients, device_data, layout, parallel
from fnnet.training.epochs import make_epoch, make_epochs
from fnnet.training.monitor import EarlyStopping, History
from fnnet.training.state import TrainState, fresh_state
from fnnet.training.step import check_grad


class EnsembleResult(NamedTuple):
    params: Any  # stacked (N, ...): each member's best epoch's under early stopping, else its last
    histories: list  # N History objects, one dict per epoch the member ran
    best_epochs: list  # N ints (None: no early stopping, or no epoch ran)
    stopped_early: list  # N bools
    diverged: list  # N bools: the member's loss or parameters became non-finite
    # stacked TrainState of each member's last epoch run (params, opt_state, step and epoch
    # (N,) int32, key (N, ...) raw data as fit's; stopping None): plain arrays, as fit's
    state: Any = None


class _Progress(NamedTuple):
    """One member's run on the device (carried in ``TrainState.stopping``)."""

    active: jax.Array  # bool: neither stopped nor diverged
    diverged: jax.Array  # bool
    best: jax.Array  # the monitored metric's best value (NaN before any)
    best_epoch: jax.Array  # int32, 0: none yet
    wait: jax.Array  # int32: epochs since the best
    params: Any  # the best epoch's parameters (None without early stopping)


def _guarded(epoch: Callable, stopping: EarlyStopping | None) -> Callable:
    """``epoch`` for one member that runs only while the member is active: an epoch whose
    loss or parameters are non-finite is undone and ends the member (diverged); early
    stopping's rules are ``EarlyStopping.update`` and ``should_stop``, on the device. The
    metrics gain "ran": whether this epoch counted."""

    def run(state: TrainState, x, t, val, w, **kw):
        p = state.stopping
        before = state._replace(stopping=None)
        after, m = epoch(before, x, t, val, w, **kw)  # kw: the layout (make_epochs)
        finite = functools.reduce(lambda ok, leaf: ok & jnp.all(jnp.isfinite(leaf)),
                                  jax.tree.leaves(after.params), jnp.isfinite(m["loss"]))
        ran = p.active & finite
        state = TrainState(*(jax.tree.map(lambda new, old: jnp.where(ran, new, old), a, b)
                             for a, b in zip(after[:4], before[:4])), before.key)
        diverged = p.diverged | (p.active & ~finite)
        if stopping is None:
            progress = p._replace(active=ran, diverged=diverged)
        else:
            value = m[stopping.monitor].astype(p.best.dtype)
            better = (p.best_epoch == 0) | (stopping.sign() * (value - p.best) < -stopping.min_delta)
            improved = ran & better
            wait = jnp.where(improved, 0, jnp.where(ran, p.wait + 1, p.wait))
            stopped = (wait > 0) & (wait >= stopping.patience)
            progress = _Progress(ran & ~stopped, diverged, jnp.where(improved, value, p.best),
                                 jnp.where(improved, after.epoch, p.best_epoch), wait,
                                 jax.tree.map(lambda new, old: jnp.where(improved, new, old), after.params, p.params))
        return state._replace(stopping=progress), {**m, "ran": ran}

    return run


@functools.lru_cache(maxsize=32)
def _programs(net, loss, lifted, names, batch_size, grad, with_accuracy, eval_batch_size, stopping,
              max_epochs, shardings=(None, None), at_once=None):
    """The start, epochs and final programs, vmapped over the members and compiled; each
    takes the lifted ``make_optimizer``'s float values first (``fnnet.training.coefficients``);
    with ``shardings`` (``members_mesh``), the members and each minibatch split on a mesh;
    with ``at_once``, the epochs vmapped over that many members at a time, looping over groups."""

    # Dropout rates go to the network, the other hyperparameters to make_optimizer.
    rated = {name: dropout_layers(net, name) for name in names or () if name in DROPOUT_NAMES}

    def member_net(hp):
        hp = dict(zip(names or (), hp))
        return net.with_dropout({i: hp[name] for name, idx in rated.items() for i in idx}) if rated else net

    def optimizer(values, hp):
        make_optimizer = lifted.rebuild(values)
        hp = {k: v for k, v in zip(names or (), hp) if k not in rated}
        opt = make_optimizer(**hp) if hp else make_optimizer
        if not isinstance(opt, optax.GradientTransformation):
            raise ValueError(f"make_optimizer(**hyperparams) must return an optax GradientTransformation, "
                             f"got {type(opt).__name__}")
        return opt

    def ensemble_start(values, params, key, hp):
        progress = _Progress(jnp.array(True), jnp.array(False), jnp.array(jnp.nan, net.param_dtype(params)),
                             *(jnp.zeros((), jnp.int32),) * 2, params if stopping is not None else None)
        return fresh_state(optimizer(values, hp), params, key)._replace(stopping=progress)

    def update(values, hp, g, s, p):
        opt = optimizer(values, hp)
        with jax.numpy_dtype_promotion("standard"):
            return opt.update(g, s, p, **layout.extra_args(opt, g))

    def ensemble_epochs(values, state, hp, x, t, val, w, n):
        epoch = make_epoch(member_net(hp), loss, optimizer(values, hp), batch_size=batch_size, grad=grad,
                           accuracy=with_accuracy, eval_batch_size=eval_batch_size, sharding=shardings[1])
        # Each member's weights with few outputs run transposed (fnnet.training.layout).
        plan = None if shardings[1] is not None else lambda s: layout.plan(update, s.params, s, values, hp)
        state, metrics = make_epochs(_guarded(epoch, stopping), max_epochs, layout=plan)(state, x, t, val, n, w)
        del metrics["finite"], metrics["params_finite"]
        return state, metrics

    def ensemble_final(state):
        """Each member's best epoch's parameters (called only when early stopping restores
        them), its last where it had none."""
        return jax.tree.map(lambda b, a: jnp.where(state.stopping.best_epoch > 0, b, a),
                            state.stopping.params, state.params)

    axis = None if shardings[0] is None else MEMBERS  # the vmapped axis is the mesh's members axis
    if at_once is None:
        epochs = jax.vmap(ensemble_epochs, in_axes=(None, 0, 0, None, None, None, None, None), spmd_axis_name=axis)
    else:
        def epochs(values, state, hp, x, t, val, w, n):
            def one(member):
                return ensemble_epochs(values, *member, x, t, val, w, n)
            return jax.lax.map(one, (state, hp), batch_size=at_once if at_once > 1 else None)
    programs = [jax.jit(jax.vmap(ensemble_start, in_axes=(None, 0, 0, 0), spmd_axis_name=axis)),
                jax.jit(jax.vmap(ensemble_final, spmd_axis_name=axis))]
    programs.insert(1, jax.jit(epochs))  # data: shared by the members
    return tuple(p if shardings[0] is None else parallel.under_mesh(p, shardings[0]) for p in programs)


def fit_many(net: Network, loss, make_optimizer, params, data, *, keys, epochs: int = 10,
             batch_size: int = 32, hyperparams: dict | None = None, validation_data=None,
             early_stopping: EarlyStopping | None = None, accuracy: bool | None = None,
             grad: str = "autodiff", eval_batch_size: int = 1024, mesh=None,
             members_at_once: int | None = None) -> EnsembleResult:
    """Train N networks of one shape at once: ``jax.vmap`` of ``fnnet.make_epoch``
    over the members, compiled once; member i is ``fit(net, loss, make_optimizer(**hp_i),
    params_i, data, key=keys[i], ...)``.

    Args:
        net: the Network (one shape for all members).
        loss: a name, an fnnet loss, or a callable ``loss(y, t[, weights])`` (as for fit).
        make_optimizer: with ``hyperparams``, a function ``make_optimizer(**hp) ->
            optax.GradientTransformation`` called inside the vmap with each member's values
            (traced scalars), e.g. ``lambda learning_rate, l2: optax.chain(optim.l2(l2),
            optim.sgd(learning_rate))``; without, one optax transformation for all members.
            Reuse the same function object: it is part of the compiled program's cache key.
        params: a stacked parameter tree, every leaf with leading axis N, e.g.
            ``jax.vmap(net.init)(jax.random.split(key, N))``.
        data: ``(x, t)`` or ``(x, t, w)``, shared by all members (checked as fit checks it).
        keys: (N,) per-member run keys (shuffling and dropout, as fit's ``key``).
        epochs: epochs per member (>= 0).
        batch_size: minibatch size in [1, n].
        hyperparams: a dict name -> (N, ...) array (or a tree of them, e.g. an update
            mask), passed as ``make_optimizer(**hp)``; floats are cast to the parameters'
            dtype. Two names go to the network instead: "dropout" sets the rate of its
            Dropout layers after hidden layers, "input_dropout" of its input Dropout layer
            (the network must have them; their own rate is replaced).
        validation_data: ``(x_val, t_val)`` evaluated after each epoch.
        early_stopping: an EarlyStopping applied to each member on its own: a member that
            stops keeps its state (and, with ``restore_best``, gets its best epoch's
            parameters) while the others go on. The ``min_delta`` comparison is made in
            the parameters' dtype (fit makes it in float64 on the host).
        accuracy: report accuracy (default: for labels and one-hot targets).
        grad: "autodiff" or "backprop".
        eval_batch_size: examples per chunk of the validation pass.
        mesh: a ``jax.sharding.Mesh`` with a "members" axis (and optionally a "data"
            axis): the members are split along the one (N divisible by its size), each
            member's minibatches along the other (batch_size divisible by its size), the
            data replicated. Explicit or auto axes; it runs on an auto-axes copy.
        members_at_once: vmap this many members at a time and loop over the groups in
            the same program, in [1, N]. Default: all at once on an accelerator; on a CPU
            as many as keep a group within ``VMAPPED_PARAMS`` parameters, a divisor
            of the group where one is near (``default_at_once``). On a CPU,
            members whose updates are small (``THREADED_WORK``) also train a group per
            core, side by side in threads (one compiled program): XLA:CPU runs a
            program's small matrix products on one core.

    Returns an EnsembleResult: ``params`` stacked (N, ...); ``histories`` a list of N
    ``History`` (fit's records); ``best_epochs``, ``stopped_early``, ``diverged`` lists
    of N; ``state`` each member's last TrainState, stacked (what fit's ``state`` holds).
    A member whose loss or parameters become non-finite stops with the parameters of its
    last finite epoch (where fit would raise DivergenceError) and ``diverged``.
    """
    loss = losses_.get(loss)
    check_grad(grad)
    n_members, dtype = member_count(params), member_dtype(net, params)
    check_keys(keys, n_members)
    names, hp = check_hyperparams(hyperparams, n_members, dtype)
    for name in set(names or ()) & set(DROPOUT_NAMES):
        dropout_layers(net, name)
    shared = not set(names or ()) - set(DROPOUT_NAMES)  # no hyperparameter for the optimizer
    if shared != isinstance(make_optimizer, optax.GradientTransformation):
        want = ("an optax GradientTransformation shared by all members" if shared else
                "a function make_optimizer(**hp) returning an optax GradientTransformation")
        raise ValueError(f"make_optimizer: with{'out' * shared} optimizer hyperparams, expected {want}, "
                         f"got {type(make_optimizer).__name__}")
    if not shared:
        check_member_optimizers(make_optimizer, names, hp, n_members)
    epochs, batch_size = device_data.as_count(epochs), device_data.as_count(batch_size)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be an int >= 0, got {epochs!r}")
    x, t, w = device_data.unpack(data, loss)
    accuracy = device_data.is_classification(t) if accuracy is None else accuracy
    x, t = device_data.to_device(x, t, net.in_shape, net.out_shape, dtype, "data")
    n = x.shape[0]
    w = None if w is None else device_data.example_weights(w, n, dtype, "data")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be an int in [1, {n}] (the number of examples), got {batch_size!r}")
    val = None if validation_data is None else device_data.to_device(
        *validation_data, net.in_shape, net.out_shape, dtype, "validation_data")
    metrics = ["loss"] + ["accuracy"] * bool(accuracy)
    metrics += ["val_" + m for m in metrics] * (val is not None)
    if early_stopping is not None and early_stopping.monitor not in metrics:
        raise ValueError(f"early stopping monitors {early_stopping.monitor!r}, which is not among the metrics "
                         f"{metrics}" + "; pass validation_data" * early_stopping.monitor.startswith("val_"))
    # A power of two at least `epochs`, so that nearby epoch counts share one program; with
    # early stopping, 16 at most, so the run ends soon after every member has stopped.
    chunk = min(1 << max(epochs - 1, 0).bit_length(), 16 if early_stopping is not None else 1 << 30)
    if members_at_once is not None and (isinstance(members_at_once, bool) or not isinstance(members_at_once, int)
                                        or not 1 <= members_at_once <= n_members or mesh is not None):
        raise ValueError(f"members_at_once: expected None or an int in [1, {n_members}] (the members; without "
                         f"mesh=), got {members_at_once!r}" + " with a mesh" * (mesh is not None))
    shardings = (None, None) if mesh is None else members_mesh(mesh, n_members, batch_size)
    if mesh is not None:
        params, keys, hp = jax.device_put((params, keys, hp), shardings[0])
        x, t, w, val = parallel.replicate(shardings[0], (x, t, w, val))
    lifted, values = lifted_optimizer(make_optimizer, names, hp, params)
    size = sum(int(np.prod(np.shape(a)[1:])) for a in jax.tree.leaves(params))  # one member's parameters
    groups = 1 if mesh is not None else worker_groups(n_members, batch_size * size)
    if members_at_once is None and mesh is None:
        members_at_once = default_at_once(n_members // groups, size)
    memory.check_training(net, make_optimizer if shared else None, dtype,
                          what=f"fit_many of {n_members} members",
                          shrink="try fewer members, a smaller network, batch_size or members_at_once",
                          examples=n, batch_size=batch_size, eval_examples=0 if val is None else int(val[0].shape[0]),
                          eval_batch_size=eval_batch_size, members=n_members,
                          at_once=(members_at_once or n_members) * groups, early_stopping=early_stopping is not None)
    start, run, final = _programs(net, loss, lifted, names, batch_size, grad, bool(accuracy),
                                  int(eval_batch_size), early_stopping, chunk, shardings,
                                  # one member: XLA:CPU's batched matmuls are slower than plain ones
                                  1 if n_members == groups else members_at_once)
    values = coefficients.as_arguments(values)
    steps = -(-n // batch_size)

    stop = threading.Event()

    def train(part):
        params, keys, hp = part
        return _epochs_loop(run, values, start(values, params, keys, hp), hp, (x, t, val, w), epochs, chunk, steps,
                            stop)

    if groups == 1:
        state, histories = train((params, keys, hp))
    else:
        # Each core trains its share of the members: XLA:CPU runs one program's ops one
        # after another on one core, but two programs called from two threads side by side.
        scope = _config_scope()  # JAX's configuration contexts are per thread: the caller's, in each
        pool = _workers(groups)
        futures = []
        try:
            futures = [pool.submit(scope, train, part) for part in _split_program(groups)((params, keys, hp))]
            outs = [f.result() for f in futures]
        except BaseException:
            stop.set()  # Ctrl-C or a group's error: the others stop after their current call
            for f in futures:
                f.cancel()
            raise
        state = _join_program(groups)(tuple(o[0] for o in outs))
        histories = [h for o in outs for h in o[1]]
    p = jax.device_get(state.stopping._replace(params=None))
    best = [int(b) or None for b in p.best_epoch]  # without early stopping: 0, and wait 0
    stopped = [bool(s) for s in (p.wait > 0) & (p.wait >= getattr(early_stopping, "patience", 0))]
    # Without a best epoch to restore the final parameters are the state's: no program to run.
    restores = early_stopping is not None and early_stopping.restore_best
    return EnsembleResult(final(state) if restores else state.params, histories, best, stopped,
                          [bool(d) for d in p.diverged],
                          state._replace(stopping=None))


def _epochs_loop(run, values, state, hp, data, epochs: int, chunk: int, steps: int, stop: threading.Event):
    """Run ``epochs`` epochs of the members in ``state``, ``chunk`` per call, stopping once
    none is active (or ``stop`` is set, between calls): ``(state, histories)``."""
    x, t, val, w = data
    histories = [History() for _ in range(member_count(state.params))]
    done = 0
    while done < epochs and not stop.is_set():
        count = min(chunk, epochs - done)
        state, metrics = run(values, state, hp, x, t, val, w, np.int32(count))
        metrics = jax.device_get(metrics)
        ran = metrics.pop("ran")[:, :count].sum(axis=1)
        for i, history in enumerate(histories):
            columns = {"epoch": range(done + 1, done + count + 1),
                       "step": range(steps * (done + 1), steps * (done + count) + 1, steps),
                       **{k: v[i] for k, v in metrics.items()}}
            history._append(columns, int(ran[i]))
        done += count
        if not np.asarray(state.stopping.active).any():
            break
    return state, histories


#: Below this many multiply-adds per update (batch × a member's parameters), one member's
#: update keeps one core busy, not two: members then train side by side, a group per
#: core (digits, batch 32: 0.6M; MNIST 784-512-512-10, batch 128: 86M, whose matrix
#: products already use every core).
THREADED_WORK = 1 << 24

#: On a CPU, a group vmaps members while their parameters stay within this many numbers
#: (the optimizer's sweeps over them stay in cache), looping over sub-groups beyond.
VMAPPED_PARAMS = 1 << 16


def _config_scope() -> Callable:
    """``scope(f, *args)``: f called under this thread's JAX configuration contexts (64-bit
    mode, dtype and rank promotion, matmul precision, NaN and Inf checks), which a new
    thread would not have."""
    c = jax.config
    x64, dtypes, ranks = c.jax_enable_x64, c.jax_numpy_dtype_promotion, c.jax_numpy_rank_promotion
    precision, nans, infs = c.jax_default_matmul_precision, c.jax_debug_nans, c.jax_debug_infs

    def scope(f, *args):
        with jax.enable_x64(x64), jax.numpy_dtype_promotion(dtypes), jax.numpy_rank_promotion(ranks), \
                jax.default_matmul_precision(precision), jax.debug_nans(nans), jax.debug_infs(infs):
            return f(*args)

    return scope


def worker_groups(n_members: int, work: int) -> int:
    """How many groups of members train side by side, one per core: on a CPU, for members
    whose update is ``work`` < ``THREADED_WORK`` multiply-adds, the largest divisor of N
    not above the cores this process may use (one compiled program for every group);
    otherwise 1 (an accelerator runs the vmapped members at once)."""
    if jax.default_backend() != "cpu" or work >= THREADED_WORK:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(g for g in range(1, min(cores, n_members) + 1) if n_members % g == 0)


def default_at_once(group: int, size: int) -> int | None:
    """``members_at_once`` when not given: on a CPU, as many members as keep a vmapped
    group within ``VMAPPED_PARAMS`` parameters (None: the whole group), elsewhere None;
    the largest such count that divides the group when it is at least half of them.
    Measured on 2 cores (bench/ensemble.py, 512 digits nets, a group of 256 per core):
    3 at a time, 2.1× the fits one after another; all 256 at once, 1.1×. A divisor,
    because ``lax.map`` compiles the vmapped epochs a second time for a remainder: 2 at
    a time (8 digits nets, 4 per core) made the first call 1.5 s, 3 at a time 2.4 s, at
    the same speed afterwards."""
    if jax.default_backend() != "cpu":
        return None
    fits = max(1, VMAPPED_PARAMS // max(size, 1))
    if fits >= group:
        return None
    divisor = max(d for d in range(1, fits + 1) if group % d == 0)
    return divisor if 2 * divisor >= fits else fits


_WORKERS: dict = {}
_WORKERS_LOCK = threading.Lock()


def _workers(groups: int) -> concurrent.futures.ThreadPoolExecutor:
    """The threads that train groups side by side, kept between calls (starting them took
    1-3 ms of a 130 ms fit_many); one pool per group count."""
    with _WORKERS_LOCK:
        pid, pool = _WORKERS.get(groups, (None, None))
        if pid != os.getpid():  # none yet, or a forked child's copy, whose threads did not come along
            pool = concurrent.futures.ThreadPoolExecutor(groups, thread_name_prefix="fnnet-members")
            _WORKERS[groups] = (os.getpid(), pool)
        return pool


@functools.lru_cache(maxsize=8)
def _split_program(groups: int):
    """A tree of (N, ...) arrays -> ``groups`` trees of (N / groups, ...), in one program."""
    def split(tree):
        n = member_count(tree[0])
        size = n // groups
        return tuple(jax.tree.map(lambda a: a[g * size:(g + 1) * size], tree) for g in range(groups))
    return jax.jit(split)


@functools.lru_cache(maxsize=8)
def _join_program(groups: int):
    """``groups`` trees of (M, ...) arrays -> one of (groups × M, ...), in one program."""
    return jax.jit(lambda trees: jax.tree.map(lambda *a: jnp.concatenate(a), *trees))


# ---------------------------------------------------------------- the arguments


def lifted_optimizer(make_optimizer, names, hp, params) -> tuple[coefficients.Lifted, tuple]:
    """``make_optimizer`` (a transformation, or a function of the members' hyperparameters)
    lifted (``fnnet.training.coefficients``), so that a new object of the same structure
    reuses the compiled programs; its floats stay constant where they cannot be traced
    (checked on one member's shapes)."""
    one = lambda a: jax.ShapeDtypeStruct(jnp.shape(a)[1:], jnp.result_type(a))  # noqa: E731
    member_hp = {k: jax.tree.map(one, v) for k, v in zip(names or (), hp or ()) if k not in DROPOUT_NAMES}
    return coefficients.lift_checked(make_optimizer, _member_probe, jax.tree.map(one, params), member_hp)


def _member_probe(make_optimizer, params, hp) -> None:
    coefficients.probe((make_optimizer(**hp) if hp else make_optimizer, None), params)


def member_count(params) -> int:
    """N, the members of a stacked parameter tree (every leaf's leading axis); a one-line
    ValueError names the leaf whose leading axis differs."""
    flat = [("params" + jax.tree_util.keystr(path), np.shape(leaf))
            for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]]
    if not flat:
        raise ValueError("params: expected a stacked parameter tree (leading axis N), got no arrays")
    for name, shape in flat:
        if not shape:
            raise ValueError(f"{name}: expected a stacked leaf with a leading members axis, got a scalar")
        if shape[0] != flat[0][1][0]:
            raise ValueError(f"{name}: leading axis {shape[0]} but {flat[0][0]} has {flat[0][1][0]} (the "
                             "members, N); every leaf must stack the same members")
    return flat[0][1][0]


def member_dtype(net: Network, params):
    """``net.checked_dtype`` of one member, checked on shapes alone (nothing is sliced)."""
    member_count(params)
    one = jax.tree.map(lambda a: jax.ShapeDtypeStruct(np.shape(a)[1:], jnp.result_type(a)), params)
    try:
        return net.checked_dtype(one)
    except ValueError as e:
        raise ValueError(f"one member's {e}") from None


def check_keys(keys, n: int):
    typed = hasattr(keys, "dtype") and jnp.issubdtype(keys.dtype, jax.dtypes.prng_key)
    shape = np.shape(keys) if hasattr(keys, "shape") else None
    if shape is None or len(shape) != 2 - typed or shape[0] != n:
        got = (type(keys).__name__ if shape is None else "a single key" if len(shape) == 1 - typed
               else f"shape {shape}")
        raise ValueError(f"keys: expected {n} keys (one per member, e.g. jax.random.split(key, {n})), got {got}")


#: hyperparams names that set the network's dropout rates, not the optimizer's arguments.
DROPOUT_NAMES = ("dropout", "input_dropout")


def dropout_layers(net: Network, name: str) -> tuple:
    """The indices of the Dropout layers that hyperparams[name] sets: "input_dropout" the one
    before the first Dense layer, "dropout" every other one."""
    first = next((i for i, layer in enumerate(net.layers) if not isinstance(layer, Dropout)), 0)
    found = tuple(i for i, layer in enumerate(net.layers)
                  if isinstance(layer, Dropout) and (i < first) == (name == "input_dropout"))
    if not found:
        where = "an input Dropout layer" if name == "input_dropout" else "Dropout layers after its hidden layers"
        raise ValueError(f"hyperparams[{name!r}]: the network has no {where} to set; build it with one "
                         f"(e.g. mlp(..., {name}=0.5): the value there is replaced per member)")
    return found


def check_hyperparams(hyperparams, n: int, dtype) -> tuple[tuple, tuple]:
    """``(names, values)``: the names sorted, each value an array (or a tree of arrays, e.g.
    a mask) with leading axis n, floats in the parameters' dtype; dropout rates in [0, 1)."""
    if hyperparams is None:
        return None, ()
    if not isinstance(hyperparams, dict) or not all(isinstance(k, str) for k in hyperparams):
        raise ValueError(f"hyperparams: expected a dict of name -> ({n},) array, got {type(hyperparams).__name__}")
    names, values = tuple(sorted(hyperparams)), []
    for name in names:
        tree = jax.tree.map(jnp.asarray, hyperparams[name])
        for path, v in jax.tree_util.tree_flatten_with_path(tree)[0]:
            if not v.shape or v.shape[0] != n:
                raise ValueError(f"hyperparams[{name!r}]{jax.tree_util.keystr(path)}: expected {n} values (one "
                                 "per member), got " + (f"{v.shape[0]}" if v.shape else "a scalar"))
        if name in DROPOUT_NAMES:
            rates = np.asarray(tree) if not isinstance(tree, jax.core.Tracer) else None
            if rates is None or rates.ndim != 1 or not ((rates >= 0) & (rates < 1)).all():
                raise ValueError(f"hyperparams[{name!r}]: expected {n} dropout rates in [0, 1), got "
                                 f"{rates if rates is None or rates.ndim != 1 else [float(f'{r:.6g}') for r in rates]}")
        values.append(jax.tree.map(lambda v: v.astype(dtype) if jnp.issubdtype(v.dtype, jnp.floating) else v,
                                   tree))
    return names, tuple(values)


def check_member_optimizers(make_optimizer, names, hp, n: int) -> None:
    """Build each member's optimizer from its own values, as ``fit`` gets it: a value that
    fnnet.optim refuses for fit (a negative rate, momentum >= 1, a non-finite one) is
    refused here too, naming the member (inside the program the values are traced, and
    a traced value is checked for shape only)."""
    chosen = {k: v for k, v in zip(names or (), hp) if k not in DROPOUT_NAMES}
    if any(isinstance(a, jax.core.Tracer) for a in jax.tree.leaves(chosen)):
        return
    chosen = jax.tree.map(np.asarray, chosen)
    for i in range(n):
        try:
            make_optimizer(**jax.tree.map(lambda a: a[i].item() if a.ndim == 1 else a[i], chosen))
        except ValueError as e:
            raise ValueError(f"hyperparams, member {i}: {e}") from None
        except Exception:  # noqa: BLE001 - a maker that wants traced values: the program checks what it can
            return


#: the mesh axes fit_many shards the members and each minibatch along
MEMBERS, DATA = "members", "data"


def members_mesh(mesh, n: int, batch_size: int):
    """``(members, data)`` shardings for ``fit_many(mesh=)``: members split along the
    mesh's "members" axis, each minibatch along its "data" axis (None if it has none).
    Both live on an auto-axes copy of the mesh: the vmapped epoch's loop does not trace
    with explicit axes."""
    if not isinstance(mesh, Mesh):
        raise ValueError(f"mesh: expected a jax.sharding.Mesh, got {type(mesh).__name__}")
    if MEMBERS not in mesh.axis_names:
        raise ValueError(f"mesh has no axis {MEMBERS!r} to split the members along (its axes: "
                         f"{tuple(mesh.axis_names)}); e.g. jax.make_mesh((2, 4), ('members', 'data'))")
    extra = [a for a in mesh.axis_names if a not in (MEMBERS, DATA)]
    if extra:
        raise ValueError(f"mesh: expected the axes 'members' and optionally 'data', got {tuple(mesh.axis_names)}")
    if n % mesh.shape[MEMBERS]:
        raise ValueError(f"{n} members are not divisible by the {mesh.shape[MEMBERS]} devices of mesh axis "
                         f"{MEMBERS!r}")
    if DATA in mesh.axis_names and batch_size % mesh.shape[DATA]:
        raise ValueError(f"batch_size {batch_size} is not divisible by the {mesh.shape[DATA]} devices of mesh "
                         f"axis {DATA!r}")
    auto = Mesh(mesh.devices, mesh.axis_names, axis_types=(AxisType.Auto,) * len(mesh.axis_names))
    return NamedSharding(auto, P(MEMBERS)), NamedSharding(auto, P(DATA)) if DATA in mesh.axis_names else None


def unstack(params) -> list:
    """A stacked tree as a list of its N members' trees; the other way is
    ``jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)``."""
    return [jax.tree.map(lambda a, i=i: a[i], params) for i in range(member_count(params))]


# ---------------------------------------------------------------- the ensemble's prediction


def _outputs_are_probabilities(net: Network) -> bool:
    """Whether the last layer with an activation ends in softmax or sigmoid."""
    last = next((a for a in (getattr(layer, "activation", None) for layer in reversed(net.layers))
                 if a is not None), None)
    return getattr(last, "name", last) in ("softmax", "sigmoid")


@functools.lru_cache(maxsize=32)
def _predict_program(net: Network, probabilities: bool):
    def predict(params, x):
        y = jax.vmap(lambda p: net.apply(p, x))(params)  # (N, ..., out)
        if not probabilities:
            y = jax.nn.sigmoid(y) if net.out_features == 1 else jax.nn.softmax(y, axis=-1)
        return jnp.mean(y, axis=0)

    return jax.jit(predict)


def ensemble_predict(net: Network, params, x, *, probabilities: bool | None = None):
    """The ensemble's probabilities ``(1/N) Σ_i p_i(x)``: x (batch, *in_shape) -> (batch, out).
    ``p_i`` is member i's output when ``probabilities`` (the outputs already are: a
    softmax or sigmoid last activation, inferred when None), else the softmax of its
    logits (the sigmoid for a single output). ``params``: stacked, leading axis N."""
    member_dtype(net, params)
    if probabilities is None:
        probabilities = _outputs_are_probabilities(net)
    return _predict_program(net, bool(probabilities))(params, x)


def ensemble_accuracy(net: Network, params, x, t, *, probabilities: bool | None = None) -> float:
    """The ensemble's accuracy: the fraction of examples whose argmax of ``ensemble_predict``
    matches the label t (n,) or one-hot target (n, out); for one output, p > 0.5."""
    dtype = member_dtype(net, params)
    x, t = device_data.to_device(x, t, net.in_shape, net.out_shape, dtype, "data")
    return float(losses_.accuracy(ensemble_predict(net, params, x, probabilities=probabilities), t))
