"""An ensemble run (``fnnet train --members N``): N networks of a run's configuration
trained in one vmapped program (``fnnet.fit_many``) on the run's data, with its
loss, optimizer and early stopping; a leaderboard of the members, the ensemble's
accuracy (the mean of the members' probabilities), and the best member saved as the
run's model, so that evaluate, predict and resume read the directory as any run's.

Seeds: member i has seed ``seed + i``, used as a plain run uses its seed for the network
(initial parameters from ``fold_in(key(seed + i), 0)``, shuffling and dropout from
``fold_in(key(seed + i), 1)``); the data split and standardizer are the run's own (seed
``seed``) for every member. So member 0 is the plain ``fnnet train --seed seed``.

What is saved: ``members.json`` (the leaderboard, best first, and the ensemble's
accuracy) and, as the run's history, checkpoint, summary and curve, the best member
by validation loss (by training loss without a validation split), with its last
epoch's parameters and optimizer state (``EnsembleResult.state``) and its early-stopping
progress, as a plain run saves them: ``fnnet resume`` goes on as that member's plain run
would.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import numpy as np

from fnnet.runs import directories, files
from fnnet.runs.pipeline import Diverged, Interrupted, Outcome, RunPlan, report_saved, run_name, until_saved
from fnnet.runs.preparation import stopper
from fnnet.runs.settings import ensemble_size
from fnnet.storage import atomic

LEADERBOARD = directories.MEMBERS


@dataclass
class MembersOutcome:
    """What an ensemble run did: the saved member's ``Outcome`` (as a plain run reports
    it), the leaderboard (one dict per member, best first, ranked by ``ranked_by``), the
    ensemble's accuracy per split, and fit_many's ``EnsembleResult`` (stacked params)."""

    outcome: Outcome
    leaderboard: list
    ranked_by: str
    ensemble: dict
    result: object


def seeds(config: dict, n: int) -> list[int]:
    """The members' seeds ``seed, ..., seed + n - 1``; a ValueError if one passes 2**63."""
    ensemble_size(n)
    last = config["seed"] + n - 1
    if last >= 2**63:
        raise ValueError(f"--seed {config['seed']} with --members {n}: the members' seeds run to {last}; "
                         "expected seeds below 2**63 (a smaller --seed)")
    return list(range(config["seed"], last + 1))


def initial(net, member_seeds):
    """``(params, keys)``: stacked (N, ...) initial parameters and (N,) run keys, member i's
    those of a plain run with seed ``member_seeds[i]`` (``fnnet.runs.preparation.template``)."""
    import jax
    import jax.numpy as jnp

    bases = [jax.random.key(s) for s in member_seeds]
    trees = [net.init(jax.random.fold_in(k, 0)) for k in bases]
    params = jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)
    return params, jnp.stack([jax.random.fold_in(k, 1) for k in bases])


def train_members(the_plan: RunPlan, n: int, *, out=None, overwrite: bool = False, base="runs",
                  plot: bool = True) -> MembersOutcome:
    """Train ``n`` members of ``the_plan`` at once in a new run directory (or the
    replacement of ``out``), rank them, save the best as the run's model. The members
    and their seeds are checked before any file is written; a failure before the
    checkpoint leaves nothing (and a replaced run unchanged)."""
    from fnnet.training.ensemble import fit_many

    member_seeds = seeds(the_plan.config, n)
    config = {**the_plan.config, "members": n}
    the_plan = dataclasses.replace(the_plan, config=config)
    net, splits = the_plan.net, the_plan.splits
    early_stopping = stopper(config, splits["val"] is not None)
    params, keys = initial(net, member_seeds)
    with directories.create(out, name=run_name(config), base=base, overwrite=overwrite) as run:
        with until_saved(run):
            files.write_json(run.path / directories.CONFIG, config)
            try:
                result = fit_many(
                    net, the_plan.loss, the_plan.optimizer, params, splits["train"], keys=keys,
                    epochs=config["epochs"], batch_size=config["batch_size"], validation_data=splits["val"],
                    early_stopping=early_stopping, grad=config["grad"])
            except KeyboardInterrupt:
                raise Interrupted(f"before the {n} members finished (nothing was saved)") from None
            board, ranked_by = rank_members(the_plan, result, member_seeds)
            if board[0]["diverged"]:
                raise Diverged(f"all {n} members diverged: nothing was saved; try a smaller --lr or --clip")
            kept = [row["member"] for row in board if not row["diverged"]]
            together = split_accuracies(the_plan, result.params, kept)
            best = board[0]["member"]
            fit_result = _save_member(run, the_plan, result, best, early_stopping)
            files.write_json(run.path / LEADERBOARD, {
                "members": n, "seeds": member_seeds, "ranked_by": ranked_by, "saved_member": best,
                "ensemble": together, "leaderboard": board})
            run.commit()
        replaced = tuple(run.replaced)
        outcome = report_saved(run, the_plan, fit_result, plot)
    outcome.run_dir, outcome.replaced = run.target, replaced
    return MembersOutcome(outcome, board, ranked_by, together, result)


def rank_members(the_plan: RunPlan, result, member_seeds) -> tuple[list, str]:
    """``(rows, ranked_by)``: each member's loss and accuracy on every split (its returned
    parameters: the best epoch's under early stopping), best first by validation loss
    (training loss without a validation split); members that diverged come last."""
    from fnnet.training.ensemble import unstack
    from fnnet.training.evaluation import evaluate

    ranked_by = "val_loss" if the_plan.splits["val"] is not None else "train_loss"
    rows = []
    for i, p in enumerate(unstack(result.params)):
        row = {"member": i, "seed": member_seeds[i], "best_epoch": result.best_epochs[i],
               "epochs": len(result.histories[i]), "stopped_early": result.stopped_early[i],
               "diverged": result.diverged[i]}
        for name, split in the_plan.splits.items():
            if split is not None:
                m = evaluate(the_plan.net, the_plan.loss, p, split)
                loss = float(m["loss"])
                # Parameters that stayed finite can still give an infinite loss: diverged too
                # (ranked last, left out of the ensemble); JSON gets null, not Infinity.
                row["diverged"] = row["diverged"] or not np.isfinite(loss)
                row[f"{name}_loss"] = loss if np.isfinite(loss) else None
                row[f"{name}_accuracy"] = float(m["accuracy"])
        rows.append(row)
    rows.sort(key=lambda r: (r["diverged"], r[ranked_by] if r[ranked_by] is not None else 0.0, r["member"]))
    return rows, ranked_by


def split_accuracies(the_plan: RunPlan, params, kept) -> dict:
    """``{split: accuracy}`` of the ensemble of the members ``kept`` on each split."""
    import jax

    from fnnet.training.ensemble import ensemble_accuracy

    chosen = jax.tree.map(lambda a: a[np.asarray(kept)], params)
    return {name: ensemble_accuracy(the_plan.net, chosen, *split)
            for name, split in the_plan.splits.items() if split is not None}


def _save_member(run: directories.Run, the_plan: RunPlan, result, i: int, early_stopping):
    """Write member ``i`` as the run's history and checkpoint (its last TrainState, optimizer
    state included, as a plain run's: resume goes on as its plain run would); returns its
    ``fnnet.FitResult``."""
    import jax

    from fnnet.storage import checkpoint
    from fnnet.training.ensemble import unstack
    from fnnet.training.loop import FitResult
    from fnnet.training.state import host_count, stopping_state

    params = unstack(result.params)[i]
    history = list(result.histories[i])
    done = len(history)
    state = jax.tree.map(lambda a: a[i], result.state)
    state = state._replace(step=host_count(history[-1]["step"] if history else 0), epoch=host_count(done))
    best = result.best_epochs[i]
    if early_stopping is not None:
        stopping = early_stopping.start(params) if best is None else stopping_state(
            float(history[best - 1][early_stopping.monitor]), best, done - best, params)
        state = state._replace(stopping=stopping)
    atomic.write_text(run.path / directories.HISTORY, "".join(json.dumps(r) + "\n" for r in history))
    checkpoint.save(run.path / directories.CHECKPOINT, state, the_plan.config)
    return FitResult(params, state, history, best, result.stopped_early[i])
