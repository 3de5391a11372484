"""Memory known before it is spent. ``training`` estimates what a run will hold on the
device (parameters, gradients, optimizer state, early stopping's copy, the data, one
batch's activations and one evaluation chunk's, for every member of an ensemble);
``check`` compares an estimate with what the device has (host memory on a CPU, device
memory on an accelerator) and refuses, in one line, a run that cannot fit, or warns of one
that barely does.

Why before: XLA:CPU, asked for more than the machine has inside an asynchronously
dispatched program, can wait forever instead of failing, and a run that fits only by
pushing everything else out of memory leaves the machine unusable. An estimate is not a
promise: where it is low and XLA runs out anyway, its RESOURCE_EXHAUSTED is turned into
one line (``fnnet.runs.pipeline.out_of_memory``).

``FNNET_MEMORY_LIMIT`` (bytes, or with a K/M/G/T suffix) overrides the limit found."""

from __future__ import annotations

import math
import os
import re
import time
import warnings
from dataclasses import dataclass

import numpy as np

#: A run estimated above this fraction of the limit is warned about.
WARN_FRACTION = 0.8


class MemoryWarning(UserWarning):
    """A run estimated to need most of the device's memory."""


class MemoryEstimateError(MemoryError):
    """A run estimated to need more memory than the device has; the message says the
    estimate, its largest parts, the limit and what to shrink. ``estimate`` and
    ``limit`` (its words: "the 23.4 GB host memory available") let a caller say it in
    its own terms."""

    def __init__(self, message: str, estimate: Estimate | None = None, limit: str = ""):
        super().__init__(message)
        self.estimate, self.limit = estimate, limit


@dataclass(frozen=True)
class Estimate:
    """Bytes a run will hold, by part (``parts``: ``(name, bytes)`` pairs)."""

    parts: tuple

    @property
    def total(self) -> int:
        return sum(size for _, size in self.parts)

    def describe(self) -> str:
        """``"31.2 GB (parameters 25.6 GB, gradients 25.6 GB, ...)"``, largest parts first."""
        largest = sorted((part for part in self.parts if part[1] > 0), key=lambda p: -p[1])[:3]
        return f"{size_text(self.total)} ({', '.join(f'{name} {size_text(size)}' for name, size in largest)})"


def size_text(n: float) -> str:
    """Bytes in decimal units: ``"812 MB"``, ``"25.6 GB"``."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            value = n / scale
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{int(n)} B"


def parameter_count(net) -> int:
    """The number of parameters of ``net`` (one member), from its layers' shapes."""
    return sum(math.prod(shape) for layer, in_shape in zip(net.layers, net.shapes)
               for shape in layer.param_shapes(in_shape).values())


def activation_count(net, training: bool = True) -> int:
    """Values one example holds through a training step (each layer's output as z, a and
    delta) or an evaluation (a), with a convolution's patches matrix (how the CPU path
    computes it: once forward, once more for the kernel's gradient)."""
    copies = 3 if training else 1
    total = math.prod(net.in_shape)
    for layer, in_shape, out_shape in zip(net.layers, net.shapes, net.shapes[1:]):
        total += copies * math.prod(out_shape)
        kernel = getattr(layer, "kernel_size", None)
        if isinstance(kernel, tuple) and len(out_shape) >= 2:
            total += (2 if training else 1) * math.prod(out_shape[:-1]) * math.prod(kernel) * in_shape[-1]
    return total


def optimizer_bytes(optimizer, params_struct) -> int | None:
    """Bytes of ``optimizer.init`` on parameters shaped like ``params_struct`` (traced,
    nothing allocated); None where it cannot be traced abstractly."""
    import jax

    try:
        with jax.numpy_dtype_promotion("standard"):  # optax mixes Python floats and int32 counts
            state = jax.eval_shape(optimizer.init, params_struct)
    except Exception:  # noqa: BLE001 - an estimate, never a reason to fail a run
        return None
    return sum(int(np.prod(leaf.shape)) * np.dtype(leaf.dtype).itemsize for leaf in jax.tree.leaves(state)
               if hasattr(leaf, "shape"))


def training(net, optimizer, dtype, *, examples: int, batch_size: int, eval_examples: int = 0,
             eval_batch_size: int = 1024, members: int = 1, at_once: int | None = None,
             early_stopping: bool = False) -> Estimate:
    """What training ``members`` copies of ``net`` (parameters of ``dtype``) holds: for each
    member the parameters, their update and gradient, the optimizer's state in and out
    (``optimizer`` None: as large as Adam's), early stopping's copy; the data
    (``examples`` and ``eval_examples`` of them) once; one batch's activations and one
    evaluation chunk's for each member trained at once (``at_once``, default all).

    Bytes ≈ (2p + p + 2s + p_stop)·members + data + (B·a_train + C·a_eval)·at_once, with p
    and s one member's parameter and optimizer-state bytes, a the values per example."""
    import jax

    itemsize = np.dtype(dtype).itemsize
    p = parameter_count(net) * itemsize
    params_struct = [{name: jax.ShapeDtypeStruct(shape, dtype) for name, shape in layer.param_shapes(s).items()}
                     for layer, s in zip(net.layers, net.shapes)]
    # Unknown (None, or a state that cannot be traced abstractly): Adam's two moments.
    s = optimizer_bytes(optimizer, params_struct) if optimizer is not None else None
    s = 2 * p if s is None else s
    chunk = min(eval_batch_size, eval_examples)
    acts = batch_size * activation_count(net) + chunk * activation_count(net, training=False)
    per_example_data = (math.prod(net.in_shape) + math.prod(net.out_shape)) * itemsize
    parts = (("parameters", 2 * p * members),
             ("gradients", p * members),
             ("optimizer state", 2 * s * members),
             ("early stopping's copy", p * members if early_stopping else 0),
             ("data", (examples + eval_examples) * per_example_data),
             ("activations", acts * itemsize * (members if at_once is None else min(at_once, members))))
    return Estimate(parts)


#: How long a limit read is reused (a loop of small fits would otherwise read it each time).
LIMIT_SECONDS = 1.0
_limits: dict = {}  # device or None -> (time read, (bytes, what))


def limit(device=None) -> tuple[int | None, str]:
    """``(bytes, what)``: the memory a run may use on ``device`` (default: JAX's first) and
    how to name it; ``(None, "")`` where it cannot be told. Read at most once a second."""
    override = os.environ.get("FNNET_MEMORY_LIMIT", "").strip()
    if override:
        return parse_size(override), "the limit FNNET_MEMORY_LIMIT sets"
    seen = _limits.get(device)
    now = time.monotonic()
    if seen is None or now - seen[0] > LIMIT_SECONDS:
        seen = _limits[device] = (now, _read_limit(device))
    return seen[1]


def _read_limit(device) -> tuple[int | None, str]:
    import jax

    device = device if device is not None else jax.devices()[0]
    if device.platform == "cpu":
        available = host_available()
        return available, "host memory available"
    try:
        stats = device.memory_stats() or {}
    except Exception:  # noqa: BLE001 - a backend without statistics
        stats = {}
    if "bytes_limit" in stats:
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0)), f"free on the {device.device_kind}"
    return None, ""


def parse_size(text: str) -> int:
    """``"2G"`` -> 2e9 bytes; a ValueError names what came."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)[bB]?\s*", text)
    if not match:
        raise ValueError(f"FNNET_MEMORY_LIMIT: expected bytes, optionally with a K, M, G or T suffix "
                         f"(e.g. 8G), got {text!r}")
    scale = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}[match.group(2).lower()]
    return int(float(match.group(1)) * scale)


def host_available() -> int | None:
    """Bytes of host memory a process may still take: Linux's MemAvailable, lowered to what
    a cgroup (a container's limit) leaves; None where neither can be read."""
    available = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if available is None:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            pass
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_file) as f:
                text = f.read().strip()
            with open(usage_file) as f:
                used = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if text.isdigit() and int(text) < 1 << 60:
            room = int(text) - used
            available = room if available is None else min(available, room)
        break
    return available


def check(estimate: Estimate, *, what: str, shrink: str, device=None) -> None:
    """Raise MemoryEstimateError if ``estimate`` is above the device's limit; warn
    (MemoryWarning) above ``WARN_FRACTION`` of it. ``what`` names the run ("fit"),
    ``shrink`` what to make smaller."""
    room, where = limit(device)
    if room is None:
        return
    need = estimate.total
    if need > room:
        available = f"the {size_text(max(room, 0))} {where}"
        raise MemoryEstimateError(f"{what} needs about {estimate.describe()}, more than {available}; {shrink}",
                                  estimate, available)
    if need > WARN_FRACTION * room:
        warnings.warn(f"{what} needs about {estimate.describe()}, {100 * need / room:.0f}% of the "
                      f"{size_text(room)} {where}; {shrink} to leave room", MemoryWarning, stacklevel=3)


def check_training(net, optimizer, dtype, *, what: str, shrink: str, device=None, **sizes) -> None:
    """``check(training(net, optimizer, dtype, **sizes))``, without tracing the optimizer's
    state when even a generous bound (a state three times the parameters) stays well
    below the limit: fit's fixed cost in a loop of small fits."""
    room, _ = limit(device)
    if room is None:
        return
    bound = training(net, None, dtype, **sizes)  # a state of 2 parameters' worth; allow 3
    more = 2 * parameter_count(net) * np.dtype(dtype).itemsize * sizes.get("members", 1)
    if bound.total + more < WARN_FRACTION * room / 2:
        return
    check(training(net, optimizer, dtype, **sizes), what=what, shrink=shrink, device=device)
