"""The notes' open question, "can the structure be determined automatically?", answered
the way they point to: an evolutionary search (fnnet.search) over depth, widths,
activation, dropout, L2, optimizer and learning rate, on the bundled digits.

It trains ``fnnet train``'s default network (64-256-10 ReLU, dropout 0.2, Adam 1e-3,
early stopping) on the same split for comparison, searches (fitness: validation
accuracy; the default is among the first candidates), trains the best structure found the way ``fnnet train`` trains the default
(early stopping), then prints the networks' parameter counts and test accuracies and
writes the best configuration as ``fnnet train`` settings to
examples/output/search_best.json (and the fitness per generation beside it).

    python examples/search_digits.py
"""

from pathlib import Path

OUTPUT = Path(__file__).parent / "output"


def train_like_fnnet(given: dict) -> dict:
    """A network trained as ``fnnet train`` trains it (its own plan from the settings
    ``given``: split, standardizer, network, optimizer, early stopping), without a run
    directory: its parameter count and test accuracy."""
    import jax

    from fnnet import experiment, prepare
    from fnnet.fit import fit
    from fnnet.step import evaluate

    plan = experiment.plan(given)
    config, splits = plan.config, plan.splits
    stopping = prepare.stopper(config, splits["val"] is not None)
    state = prepare.template(plan.net, plan.optimizer, config, stopping)
    result = fit(plan.net, plan.loss, plan.optimizer, state, splits["train"], epochs=config["epochs"],
                 batch_size=config["batch_size"], validation_data=splits["val"], early_stopping=stopping)
    test = evaluate(plan.net, plan.loss, result.params, *splits["test"])
    params = sum(int(leaf.size) for leaf in jax.tree.leaves(result.params))
    return {"params": params, "test_accuracy": test["accuracy"], "splits": splits, "config": config}


def main(population: int = 16, generations: int = 4, epochs: int = 30, default_epochs: int | None = None,
         seed: int = 0, space=None, out=None, plot: bool = True) -> dict:
    """Search, then train the best structure as ``fnnet train`` trains its default (same
    split, early stopping, up to ``default_epochs``: its default 60) and compare; returns
    ``{"default": {params, test_accuracy}, "searched": {params, val_accuracy,
    test_accuracy (as the search trained it), retrained_test_accuracy, network},
    "settings": the best configuration, "programs": per generation}``."""
    from fnnet import search, search_report
    from fnnet.search_space import Candidate, SearchSpace

    out = Path(out or OUTPUT)
    base = train_like_fnnet({"data": "digits", "seed": seed, "epochs": default_epochs})
    space = space or SearchSpace(depth=(1, 2), width=(32, 256), lr=(3e-4, 3e-2), dropout=(0.0, 0.3))
    # The hand-designed default is one of the first candidates (when the space holds it): the
    # search keeps it unless it finds a network that does better on validation.
    default = Candidate((256,), "relu", 0.2, "adam", 1e-3, 0.0)
    try:
        initial = [space.check(default)]
    except ValueError:
        initial = []
    result = search.search(base["splits"], space, population=population, generations=generations, seed=seed,
                           epochs=epochs, initial=initial, on_generation=lambda g: print(
                               f"generation {g.generation}: best {g.best:.2%}, mean {g.mean:.2%}, "
                               f"{g.programs} program(s), {g.seconds:.0f} s"))
    best = result.best
    print("\n".join(search_report.leaderboard(result, 5)))
    config = search_report.best_settings(best, base["config"], epochs=epochs, batch_size=32, pieces=space.pieces)
    out.mkdir(parents=True, exist_ok=True)
    search_report.write_best(out / "search_best.json", config)
    if plot:
        search_report.plot_fitness(result, out / "search_fitness.png")
    # The structure the search chose, trained the way the default is (early stopping on).
    again = train_like_fnnet({**config, "epochs": default_epochs, "patience": None})
    print(f"\n{'':<40}{'params':>9}{'test':>9}")
    print(f"{'fnnet train default (64-256-10 relu)':<40}{base['params']:>9,}{base['test_accuracy']:>9.2%}")
    print(f"{'searched, as the search trained it':<40}{best.params:>9,}{best.test_accuracy:>9.2%}")
    print(f"{'searched, trained as fnnet train does':<40}{again['params']:>9,}{again['test_accuracy']:>9.2%}")
    verdict = "at least as accurate as" if again["test_accuracy"] >= base["test_accuracy"] else "less accurate than"
    print(f"{best.candidate.describe()}: {verdict} the default, with {best.params / base['params']:.2f}x its "
          "parameters")
    return {"default": {"params": base["params"], "test_accuracy": base["test_accuracy"]},
            "searched": {"params": best.params, "val_accuracy": best.val_accuracy,
                         "test_accuracy": best.test_accuracy, "retrained_test_accuracy": again["test_accuracy"],
                         "network": best.candidate.describe()},
            "settings": config, "programs": [g.programs for g in result.generations]}


if __name__ == "__main__":
    main()
