"""What the commands print as they go and when they end: a progress bar (tqdm, or a line
per step without it) and a run's table of metrics, its early stopping and diagnosis."""

from __future__ import annotations


def progress(total: int, unit: str, quiet: bool):
    """``(show, close)``: ``show(label, text)`` advances a tqdm bar of ``total`` ``unit``s by
    one with ``text`` beside it, the bar drawn from the first step on (so that an error
    before it stays one line); without tqdm it prints ``label: text``. ``quiet``: nothing."""
    bar = []

    def show(label: str, text: str) -> None:
        if quiet:
            return
        if not bar:
            try:
                from tqdm import tqdm
            except ImportError:
                bar.append(None)
            else:
                bar.append(tqdm(total=total, unit=unit, leave=True, dynamic_ncols=True))
        if bar[0] is None:
            print(f"{label}: {text}")
        else:
            bar[0].set_postfix_str(text, refresh=False)
            bar[0].update(1)

    def close() -> None:
        if bar and bar[0] is not None:
            bar[0].close()

    return show, close


def epoch_progress(total: int, quiet: bool):
    """``(on_epoch, close)``: ``progress`` of a run's epochs, each shown with its loss and
    accuracy (and validation's); ``on_epoch`` is None when ``quiet``."""
    show, close = progress(total, "epoch", quiet)

    def on_epoch(record) -> None:
        shown = {k: record[k] for k in ("loss", "accuracy", "val_loss", "val_accuracy") if k in record}
        show(f"epoch {record['epoch']}", ", ".join(f"{k} {v:.4f}" for k, v in shown.items()))

    return (None if quiet else on_epoch), close


def print_outcome(outcome) -> None:
    """A run's metrics per split, how early stopping ended it, the diagnosis, where it is."""
    summary = outcome.summary
    names = {"train": "train", "val": "validation", "test": "test"}
    print(f"\n{'':<12}{'loss':>10}{'accuracy':>10}{'examples':>10}")
    for name, m in summary["metrics"].items():
        print(f"{names[name]:<12}{m['loss']:>10.4f}{m['accuracy']:>10.2%}{summary['examples'][name]:>10}")
    done, best = summary["epochs_done"], summary["best_epoch"]
    if summary["stopped_early"]:
        print(f"\nearly stopping: stopped at epoch {done}, best {best}, restored")
    elif best is not None:
        print(f"\nearly stopping: ran all {done} epochs, best {best}, restored")
    else:
        print(f"\nran {done} epochs (early stopping off: the last epoch's parameters are kept)")
    print(f"\n{outcome.diagnosis}")
    print(f"\nrun saved in {outcome.run_dir}" + (f" (learning curve: {outcome.curve})" if outcome.curve else ""))
