"""Cross-validated scores for a search's finalists: a validation split of a few hundred
examples ranks candidates within its own noise (one example of digits' 270 is 0.37
points), so the finalists are scored again on every example outside the test split.

    x, t = train + val, shuffled (the seed), cut into k equal folds
    score(c) = mean over folds f of accuracy(c trained on the other k - 1 folds, on fold f)

(with early stopping, on the other k - 2: fold f + 1 decides when to stop).

Each fold trains the candidates as a search generation does (``fnnet.structure.padding``: one
program per depth, reused by every fold, since the folds are of one size).
"""

from __future__ import annotations

import zlib

import numpy as np

from fnnet.structure.space import SEARCH_ACTIVATIONS, Candidate


def cross_validate(candidates, splits: dict, *, folds: int = 5, epochs: int = 10, batch_size: int = 32,
                   seed: int = 0, pieces: int = 2, grad: str = "autodiff", patience: int = 0) -> np.ndarray:
    """(C,) mean validation accuracy of each candidate over ``folds`` folds of
    ``splits["train"]`` and ``splits["val"]`` together (``fnnet.search``'s splits;
    the test split is not touched). n mod folds examples are left out, so every fold
    has one shape; candidate c in fold f starts from ``key(seed)`` folded with f, then
    with the CRC-32 of ``repr(c)``, so its score does not depend on the list's order.
    ``patience`` > 0: each training stops early on the loss of the next fold (f + 1 mod
    k, left out of its training too) and keeps its best epoch, as ``fnnet train`` and
    ``search(patience=)`` do, but never on the examples it is scored on."""
    import jax

    from fnnet.structure import padding, trainer

    candidates = list(candidates)
    if not candidates or not all(isinstance(c, Candidate) for c in candidates):
        raise ValueError("candidates: expected a non-empty list of Candidate")
    x = np.concatenate([np.asarray(splits[s][0]) for s in ("train", "val") if splits.get(s) is not None])
    t = np.concatenate([np.asarray(splits[s][1]) for s in ("train", "val") if splits.get(s) is not None])
    if isinstance(folds, bool) or not isinstance(folds, int) or not 2 <= folds <= len(x) // 2:
        raise ValueError(f"folds: expected an int in [2, {len(x) // 2}] (half the examples), got {folds!r}")
    size = len(x) // folds
    for name, value, low in (("epochs", epochs, 1), ("batch_size", batch_size, 1), ("patience", patience, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name}: expected an integer >= {low}{' (0: none)' * (name == 'patience')}, "
                             f"got {value!r}")
    if patience and folds < 3:
        raise ValueError(f"folds: early stopping needs a fold of its own, expected at least 3, got {folds}")
    training = size * (folds - 1 - bool(patience))
    if batch_size > training:
        raise ValueError(f"batch_size: expected at most the {training} training examples of a fold, got {batch_size}")
    order = np.random.default_rng(seed).permutation(len(x))[: size * folds].reshape(folds, size)
    stopping = None
    if patience:
        from fnnet.training.monitor import EarlyStopping

        stopping = EarlyStopping("val_loss", patience)
    k = int(t.max()) + 1
    kinds = tuple(a for a in SEARCH_ACTIVATIONS if any(c.activation == a for c in candidates))
    per_program = trainer.per_program()
    widest = max(max(c.hidden, default=1) for c in candidates)
    most = max((b[0] for c in candidates for b in c.conv), default=1)
    # A candidate's keys follow from what it is, not from its place in the list.
    tags = [zlib.crc32(repr(c).encode()) & 0x7FFFFFFF for c in candidates]
    scores = np.zeros((folds, len(candidates)))
    # Every fold trains the same groups (the folds are of one size): one set of programs.
    grouped = padding.group_candidates(candidates, x.shape[1:], k, pieces=pieces, kinds=kinds, max_width=widest,
                                       max_channels=most, per_program=per_program)
    for f in range(folds):
        # With early stopping, the next fold decides when to stop, so that the best epoch
        # is not chosen on the examples that score it (that favours noisy training).
        stop = (f + 1) % folds if patience else None
        held, rest = order[f], np.concatenate([order[g] for g in range(folds) if g not in (f, stop)])
        base = jax.random.fold_in(jax.random.key(seed), f)
        for idx, group in grouped:
            keys = trainer.group_keys(idx, len(group.members), lambda i: jax.random.fold_in(base, tags[i]))
            trained = trainer.train_group(
                group, (x[rest], t[rest]), keys=keys, epochs=epochs, batch_size=batch_size,
                evaluate={"val": (x[held], t[held])}, grad=grad, per_program=per_program, early_stopping=stopping,
                validation=None if stop is None else (x[order[stop]], t[order[stop]]))
            scores[f, idx] = trained.accuracy["val"][: len(idx)]
    return scores.mean(axis=0)
