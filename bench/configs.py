"""The benchmark's configurations and their synthetic data.

Each configuration fixes a network, batch size, optimizer, loss and the amount of work
one timed repetition does (``epochs`` over ``examples`` examples). Work is sized for a
2-core CPU; ``accel_epochs`` replaces ``epochs`` on an accelerator, where updates are
much cheaper. ``quick`` shrinks everything to a smoke test.

An MLP is its ``sizes``. A convolutional net is its ``in_shape`` (one example, channels
last: ``(length, channels)`` or ``(height, width, channels)``) and ``layers``, a tuple of
specs every contender builds in its own library's terms:

    ("conv", features, kernel[, "VALID" | "SAME"])   stride 1, the hidden activation
    ("maxpool", window), ("avgpool", window)           non-overlapping (stride = window)
    ("flatten",)
    ("dense", units)                                   the hidden activation; the last
                                                       layer has the output's
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import math

import numpy as np

# The notes' worked example (fnnet.worked_example holds the same numbers).
SEED_X = (0.05, 0.10)
SEED_T = (0.01, 0.99)
SEED_ETA = 0.5
ADAM_LR = 1e-3
DATA_SEED = 0


LAYER_KINDS = ("conv", "maxpool", "avgpool", "flatten", "dense")


@dataclass(frozen=True)
class Config:
    """One benchmark configuration; ``sizes`` are an MLP's layer widths, input first, or
    None for a convolutional net described by ``in_shape`` and ``layers``."""

    name: str
    sizes: tuple | None
    batch: int
    examples: int  # a multiple of batch, so every epoch is whole minibatches
    epochs: int  # epochs per timed repetition on CPU
    accel_epochs: int  # ... on an accelerator
    activation: str = "relu"  # hidden layers; the output layer is linear (logits)
    output: str = "identity"
    optimizer: str = "adam"  # "adam" (lr 1e-3) or "sgd" (eta 0.5)
    loss: str = "cross_entropy"  # mean cross-entropy from logits on integer labels
    compute_dtype: str | None = None  # mixed precision: params float32, math in this dtype
    accelerator_only: bool = False
    in_shape: tuple | None = None  # a convolutional net's example shape, channels last
    layers: tuple | None = None  # ... and its layer specs (see the module's docstring)

    def __post_init__(self):
        if (self.sizes is None) == (self.layers is None) or (self.layers is None) != (self.in_shape is None):
            raise ValueError(f"{self.name}: give sizes (an MLP) or in_shape and layers (a convolutional net)")
        if self.layers is not None:
            self.shapes()  # a spec that does not fit fails when the configuration is made

    @property
    def convolutional(self) -> bool:
        return self.layers is not None

    @property
    def example_shape(self) -> tuple:
        """One example's input shape: ``(features,)`` for an MLP."""
        return (self.sizes[0],) if self.sizes is not None else tuple(self.in_shape)

    @property
    def classes(self) -> int:
        return self.sizes[-1] if self.sizes is not None else self.layers[-1][1]

    def shapes(self) -> list[tuple]:
        """A convolutional net's ``(spec, in_shape, out_shape)`` per layer, one example's
        shapes worked out as fnnet and lax do (VALID: H − k + 1, SAME: H, a pooling
        ⌊H / window⌋)."""
        shape, out = tuple(self.in_shape), []
        for i, spec in enumerate(self.layers):
            kind, spatial = spec[0], shape[:-1]
            if kind == "conv":
                padding = spec[3] if len(spec) > 3 else "VALID"
                new = (*(h if padding == "SAME" else h - spec[2] + 1 for h in spatial), spec[1])
            elif kind in ("maxpool", "avgpool"):
                new = (*(h // spec[1] for h in spatial), shape[-1])
            elif kind == "flatten":
                new = (math.prod(shape),)
            elif kind == "dense" and len(shape) == 1:
                new = (spec[1],)
            else:
                raise ValueError(f"{self.name}: layers[{i}] {spec} does not fit an input of {shape} "
                                 f"(kinds: {', '.join(LAYER_KINDS)}; dense after flatten)")
            if min(new) < 1:
                raise ValueError(f"{self.name}: layers[{i}] {spec} leaves nothing of an input of {shape}")
            out.append((spec, shape, new))
            shape = new
        if self.layers[-1][0] != "dense":
            raise ValueError(f"{self.name}: the last layer must be dense (the logits)")
        return out

    def describe_net(self) -> str:
        """The network in one token: ``64-128-10``, or ``8x8x1 conv16k3s-maxpool2-...-dense10``
        (``s``: SAME padding)."""
        if self.sizes is not None:
            return "-".join(map(str, self.sizes))
        names = {"conv": lambda s: f"conv{s[1]}k{s[2]}" + ("s" if len(s) > 3 and s[3] == "SAME" else ""),
                 "maxpool": lambda s: f"maxpool{s[1]}", "avgpool": lambda s: f"avgpool{s[1]}",
                 "flatten": lambda s: "flatten", "dense": lambda s: f"dense{s[1]}"}
        return "x".join(map(str, self.in_shape)) + " " + "-".join(names[s[0]](s) for s in self.layers)

    @property
    def steps_per_epoch(self) -> int:
        return self.examples // self.batch

    def updates(self, accelerator: bool) -> int:
        """Updates in one timed repetition."""
        return self.steps_per_epoch * (self.accel_epochs if accelerator else self.epochs)

    @property
    def matmul_dtype(self) -> str:
        """The dtype the matrix work runs in (what the peak is measured in)."""
        return self.compute_dtype or "float32"

    def flops_per_update(self) -> int:
        """6 · N · Σ in·out: forward (2) plus backward (4) multiply-adds of a batch of N; a
        convolution counts 6 · N · out_positions · prod(kernel) · c_in · c_out (forward 2,
        ∂/∂input 2, ∂/∂w 2, as a dense layer's); poolings, flatten, biases not counted."""
        if self.sizes is not None:
            return 6 * self.batch * sum(a * b for a, b in zip(self.sizes[:-1], self.sizes[1:]))
        macs = 0
        for spec, shape, out in self.shapes():
            if spec[0] == "conv":
                macs += math.prod(out[:-1]) * spec[2] ** (len(shape) - 1) * shape[-1] * spec[1]
            elif spec[0] == "dense":
                macs += shape[0] * spec[1]
        return 6 * self.batch * macs

    def shrunk(self) -> "Config":
        """The --quick version: two epochs of two minibatches of at most 64 examples
        (20 updates for worked-example): the same network, none of the timing."""
        if self.name == "worked-example":
            return replace(self, epochs=20, accel_epochs=20)
        batch = min(self.batch, 64)
        return replace(self, batch=batch, examples=2 * batch, epochs=2, accel_epochs=2)

    def to_json(self) -> dict:
        doc = {**asdict(self), "network": self.describe_net()}
        for key in ("sizes", "in_shape"):
            doc[key] = None if doc[key] is None else list(doc[key])
        doc["layers"] = None if self.layers is None else [list(s) for s in self.layers]
        return doc


CONFIGS = {c.name: c for c in (
    # The worked example itself: one example, batch 1, 10,000 updates (epochs of one update).
    Config("worked-example", (2, 2, 2), batch=1, examples=1, epochs=10_000, accel_epochs=10_000,
           activation="sigmoid", output="sigmoid", optimizer="sgd", loss="squared_error"),
    Config("digits", (64, 128, 10), batch=32, examples=32 * 50, epochs=20, accel_epochs=40),
    Config("mnist", (784, 512, 512, 10), batch=128, examples=128 * 20, epochs=3, accel_epochs=50),
    Config("wide", (784, 1024, 1024, 10), batch=1024, examples=1024 * 4, epochs=1, accel_epochs=50),
    Config("h4096", (4096,) * 5, batch=4096, examples=4096 * 4, epochs=1, accel_epochs=25,
           compute_dtype="bfloat16", accelerator_only=True),
    Config("h8192", (8192,) * 5, batch=8192, examples=8192 * 2, epochs=1, accel_epochs=10,
           compute_dtype="bfloat16", accelerator_only=True),
    # Convolutional nets (channels last): a 1-D signal net, a digits-size and a LeNet-size
    # image net on CPU, VGG-style stacks of 64-256 channels in bfloat16 on accelerators.
    Config("conv1d", None, in_shape=(40, 1), batch=64, examples=64 * 25, epochs=8, accel_epochs=40,
           layers=(("conv", 16, 5), ("maxpool", 2), ("conv", 32, 5), ("maxpool", 2), ("flatten",), ("dense", 10))),
    Config("digits-cnn", None, in_shape=(8, 8, 1), batch=32, examples=32 * 50, epochs=4, accel_epochs=40,
           layers=(("conv", 16, 3, "SAME"), ("maxpool", 2), ("conv", 32, 3, "SAME"), ("maxpool", 2), ("flatten",),
                   ("dense", 10))),
    Config("lenet", None, in_shape=(28, 28, 1), batch=128, examples=128 * 20, epochs=1, accel_epochs=50,
           layers=(("conv", 6, 5), ("maxpool", 2), ("conv", 16, 5), ("maxpool", 2), ("flatten",), ("dense", 120),
                   ("dense", 84), ("dense", 10))),
    Config("vgg32", None, in_shape=(32, 32, 3), batch=256, examples=256 * 8, epochs=1, accel_epochs=25,
           compute_dtype="bfloat16", accelerator_only=True,
           layers=(("conv", 64, 3, "SAME"), ("conv", 64, 3, "SAME"), ("maxpool", 2),
                   ("conv", 128, 3, "SAME"), ("conv", 128, 3, "SAME"), ("maxpool", 2),
                   ("conv", 256, 3, "SAME"), ("conv", 256, 3, "SAME"), ("maxpool", 2),
                   ("flatten",), ("dense", 256), ("dense", 10))),
    Config("vgg64", None, in_shape=(64, 64, 3), batch=128, examples=128 * 8, epochs=1, accel_epochs=25,
           compute_dtype="bfloat16", accelerator_only=True,
           layers=(("conv", 64, 3, "SAME"), ("maxpool", 2), ("conv", 128, 3, "SAME"), ("maxpool", 2),
                   ("conv", 256, 3, "SAME"), ("conv", 256, 3, "SAME"), ("maxpool", 2),
                   ("conv", 256, 3, "SAME"), ("conv", 256, 3, "SAME"), ("maxpool", 2),
                   ("flatten",), ("dense", 256), ("dense", 10))),
)}


def make_data(config: Config):
    """``(x, t)`` as NumPy arrays, the same for every contender: Gaussian float32 features
    (``(examples, *example_shape)``, channels last) and int32 labels from a fixed seed, or
    for ``worked-example`` the worked example with its float targets."""
    n, n_out = config.examples, config.classes
    if config.name == "worked-example":
        return (np.tile(np.asarray(SEED_X, np.float32), (n, 1)),
                np.tile(np.asarray(SEED_T, np.float32), (n, 1)))
    rng = np.random.default_rng(DATA_SEED)
    x = rng.standard_normal((n, *config.example_shape), dtype=np.float32)
    t = rng.integers(0, n_out, size=n).astype(np.int32)
    return x, t
