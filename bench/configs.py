"""The benchmark's configurations and their synthetic data.

Each configuration fixes a network, batch size, optimizer, loss and the amount of work
one timed repetition does (``epochs`` over ``examples`` examples). Work is sized for a
2-core CPU; ``accel_epochs`` replaces ``epochs`` on an accelerator, where updates are
much cheaper. ``quick`` shrinks everything to a smoke test.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

# The notes' worked example (fnnet.worked_example holds the same numbers).
SEED_X = (0.05, 0.10)
SEED_T = (0.01, 0.99)
SEED_ETA = 0.5
ADAM_LR = 1e-3
DATA_SEED = 0


@dataclass(frozen=True)
class Config:
    """One benchmark configuration; ``sizes`` are the layer widths, input first."""

    name: str
    sizes: tuple
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
        """6 · N · Σ in·out: forward (2) plus backward (4) multiply-adds of a batch of N."""
        return 6 * self.batch * sum(a * b for a, b in zip(self.sizes[:-1], self.sizes[1:]))

    def shrunk(self) -> "Config":
        """The --quick version: two epochs of two minibatches of at most 64 examples
        (20 updates for worked-example): the same network, none of the timing."""
        if self.name == "worked-example":
            return replace(self, epochs=20, accel_epochs=20)
        batch = min(self.batch, 64)
        return replace(self, batch=batch, examples=2 * batch, epochs=2, accel_epochs=2)

    def to_json(self) -> dict:
        return {**asdict(self), "sizes": list(self.sizes)}


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
)}


def make_data(config: Config):
    """``(x, t)`` as NumPy arrays, the same for every contender: Gaussian float32 features
    and int32 labels from a fixed seed, or for ``worked-example`` the worked example with its float
    targets."""
    n, n_in, n_out = config.examples, config.sizes[0], config.sizes[-1]
    if config.name == "worked-example":
        return (np.tile(np.asarray(SEED_X, np.float32), (n, 1)),
                np.tile(np.asarray(SEED_T, np.float32), (n, 1)))
    rng = np.random.default_rng(DATA_SEED)
    x = rng.standard_normal((n, n_in), dtype=np.float32)
    t = rng.integers(0, n_out, size=n).astype(np.int32)
    return x, t
