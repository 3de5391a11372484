"""The notes' open question, "can the structure be determined automatically?", answered
the way they point to: an evolutionary search (fnnet.search) over depth, widths,
activation, dropout, L2, optimizer and learning rate, on the bundled digits.

1. Search (fitness: validation accuracy; ``fnnet train``'s default network, 64-256-10
   ReLU with dropout 0.2 and Adam 1e-3, is among the first candidates).
2. Score the search's best few and the default again by 5-fold cross-validation on
   every example outside the test split (``fnnet.cross_validate``): the validation split's
   270 examples alone cannot tell them apart. The highest score is the network found.
3. Train both as ``fnnet train`` does, from five initial draws each: the default with
   its own settings (early stopping), the network found with the settings written for it
   (``fnnet train --config search_best.json``). Candidates are trained as ``fnnet
   train`` trains its default throughout: up to 60 epochs, stopping after 10 without a
   better validation loss, keeping the best epoch. Compare their parameter counts and mean test accuracies.

It writes the found configuration as ``fnnet train`` settings to
examples/output/search_best.json (and the fitness per generation beside it).

    python examples/search_digits.py
"""

from pathlib import Path

OUTPUT = Path(__file__).parent / "output"


def train_like_fnnet(given: dict, draws=(0,)) -> dict:
    """A network trained as ``fnnet train`` trains it (its own plan from the settings
    ``given``: split, standardizer, network, optimizer, early stopping), without a run
    directory, once per initial draw (the split stays the settings' seed's): its
    parameter count and test accuracies."""
    import jax

    from fnnet import evaluate, fit, pipeline

    plan = pipeline.plan_run(given)
    config, splits = plan.config, plan.splits
    stopping = pipeline.stopper(config, splits["val"] is not None)
    tests = []
    for draw in draws:
        state = pipeline.template(plan.net, plan.optimizer, {**config, "seed": config["seed"] + draw}, stopping)
        result = fit(plan.net, plan.loss, plan.optimizer, state, splits["train"], epochs=config["epochs"],
                     batch_size=config["batch_size"], validation_data=splits["val"], early_stopping=stopping)
        tests.append(float(evaluate(plan.net, plan.loss, result.params, splits["test"])["accuracy"]))
    params = sum(int(leaf.size) for leaf in jax.tree.leaves(result.params))
    return {"params": params, "tests": tests, "test_accuracy": sum(tests) / len(tests), "splits": splits,
            "config": config}


def main(population: int = 32, generations: int = 5, epochs: int = 60, patience: int = 10,
         default_epochs: int | None = None, seed: int = 0, space=None, out=None, plot: bool = True,
         finalists: int = 6, folds: int = 5, draws: int = 5) -> dict:
    """Search, score the best ``finalists`` and the default by ``folds``-fold
    cross-validation, train the highest-scoring (with its written settings) and the
    default (``fnnet train``'s, up to ``default_epochs``: its default 60) as ``fnnet
    train`` does on one split, from ``draws`` initial draws each, and compare; returns ``{"default": {params, test_accuracy (the
    mean), tests}, "searched": {params, val_accuracy, cv_accuracy, test_accuracy (as the
    search trained it, or None for the default), retrained_test_accuracy (the mean),
    retrained_tests, network}, "settings": its configuration, "programs": per generation}``."""
    from fnnet import Candidate, SearchSpace, cross_validate, search, search_report

    out = Path(out or OUTPUT)
    base = train_like_fnnet({"data": "digits", "seed": seed, "epochs": default_epochs}, range(draws))
    space = space or SearchSpace(depth=(1, 2), width=(32, 256), lr=(3e-4, 3e-2), dropout=(0.0, 0.3))
    # The hand-designed default is one of the first candidates (when the space holds it): the
    # search keeps it unless it finds a network that does better on validation.
    default = Candidate((256,), "relu", 0.2, "adam", 1e-3, 0.0)
    try:
        initial = [space.check(default)]
    except ValueError:
        initial = []
    result = search(base["splits"], space, population=population, generations=generations, seed=seed,
                    epochs=epochs, patience=patience, initial=initial, on_generation=lambda g: print(
                        f"generation {g.generation}: best {g.best:.2%}, mean {g.mean:.2%}, "
                        f"{g.programs} program(s), {g.seconds:.0f} s"))
    print("\n".join(search_report.leaderboard_lines(result, finalists)))
    entries = {e.candidate: e for e in result.leaderboard}
    finals = [e.candidate for e in result.leaderboard[:finalists]] + initial
    finals = list(dict.fromkeys(finals))  # the default may be among the best already
    scores = cross_validate(finals, base["splits"], folds=folds, epochs=epochs, seed=seed,
                            pieces=space.pieces, patience=patience)
    print(f"\n{folds}-fold cross-validation on the {len(base['splits']['train'][0]) + len(base['splits']['val'][0])} "
          "examples outside the test split:")
    for c, score in sorted(zip(finals, scores), key=lambda p: -p[1]):
        print(f"  {score:.2%}  {c.describe()}{'  (the default)' if c == default else ''}")
    chosen = max(zip(finals, scores), key=lambda p: (p[1], -p[0].param_count(64, 10, space.pieces)))[0]
    best = entries.get(chosen)
    config = search_report.best_settings(best, base["config"], epochs=epochs, batch_size=32, pieces=space.pieces,
                                         patience=patience)
    out.mkdir(parents=True, exist_ok=True)
    search_report.write_best(out / "search_best.json", config)
    if plot:
        search_report.plot_fitness(result, out / "search_fitness.png")
    # The configuration found, trained by fnnet train as written (what `fnnet train --config
    # search_best.json` does): the recipe the search scored it with.
    again = train_like_fnnet(config, range(draws))
    each = lambda tests: ", ".join(f"{a:.2%}" for a in tests)  # noqa: E731
    print(f"\n{'':<44}{'params':>9}{'mean test':>11}   each draw")
    print(f"{'fnnet train default (64-256-10 relu)':<44}{base['params']:>9,}{base['test_accuracy']:>11.2%}   "
          f"{each(base['tests'])}")
    print(f"{'found, fnnet train --config search_best.json':<44}{again['params']:>9,}{again['test_accuracy']:>11.2%}   "
          f"{each(again['tests'])}")
    if best.test_accuracy is not None:
        print(f"{'found, as the search trained it':<44}{best.params:>9,}{best.test_accuracy:>11.2%}")
    verdict = ("the default itself" if chosen == default else "at least as accurate as the default"
               if again["test_accuracy"] >= base["test_accuracy"] else "less accurate than the default")
    print(f"{chosen.describe()}: {verdict}, with {again['params'] / base['params']:.2f}x its parameters")
    return {"default": {"params": base["params"], "test_accuracy": base["test_accuracy"], "tests": base["tests"]},
            "searched": {"params": best.params, "val_accuracy": best.val_accuracy,
                         "cv_accuracy": float(dict(zip(finals, scores))[chosen]),
                         "test_accuracy": best.test_accuracy, "retrained_test_accuracy": again["test_accuracy"],
                         "retrained_tests": again["tests"], "network": chosen.describe()},
            "settings": config, "programs": [g.programs for g in result.generations]}


if __name__ == "__main__":
    main()
