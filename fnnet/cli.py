"""The ``fnnet`` command: train a digit recogniser, evaluate, predict, resume, and the
seed's worked example."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

DEFAULTS = dict(data="digits", hidden=[256], activation="relu", pieces=2, dropout=0.2,
                loss="cross_entropy", optimizer="adam", lr=1e-3, momentum=0.9,
                adagrad_form="seed", l1=0.0, l2=0.0, clip=None, epochs=60, batch_size=32,
                patience=10, min_delta=0.0, val=0.15, test=0.2, seed=0, grad="autodiff",
                label_column=-1)


class UserError(Exception):
    """A mistake on the command line: reported in one line, without a traceback."""


# ---------------------------------------------------------------- the pieces of a run


def load_dataset(config: dict):
    """(x, y) raw, from the run's data source: "digits", "xor" or a file."""
    from fnnet import data

    source = config["data"]
    if source == "digits":
        return data.digits()
    if source == "xor":
        return data.xor()
    return data.load(source, format=config.get("format"), label_column=config.get("label_column", -1))


def prepare(config: dict, x, y):
    """Encode labels, split, standardise (statistics of the training split only). Returns
    ``(splits, classes, standardizer)`` with splits {"train", "val", "test"} of (x, codes)."""
    import numpy as np

    from fnnet import data

    if not np.issubdtype(np.asarray(y).dtype, np.integer):
        y_arr = np.asarray(y)
        if y_arr.ndim != 1 or not np.all(np.equal(np.mod(y_arr, 1), 0)):
            raise UserError("fnnet train classifies: the label column must hold class labels "
                            f"(integers), got {y_arr.dtype} values such as {y_arr.ravel()[:3]}")
        y = y_arr.astype(np.int64)
    if "classes" in config:
        classes = np.asarray(config["classes"])
        index = {c: i for i, c in enumerate(classes.tolist())}
        unknown = sorted(set(np.asarray(y).tolist()) - set(index))
        if unknown:
            raise UserError(f"labels {unknown[:5]} were not among the run's classes {classes.tolist()}")
        codes = np.array([index[v] for v in np.asarray(y).tolist()], np.int32)
    else:
        codes, classes = data.encode_labels(y)
    train, val, test = data.train_val_test_split(x, codes, val=config["val"], test=config["test"],
                                                  seed=config["seed"])
    if "standardizer" in config:
        std = data.Standardizer.from_dict(config["standardizer"])
    else:
        std = data.Standardizer.fit(train[0])
    splits = {"train": train, "val": val, "test": test}
    splits = {k: None if v is None else (std.apply(v[0]), v[1]) for k, v in splits.items()}
    return splits, classes, std


def build(config: dict):
    """(net, loss, optimizer) from a run's configuration."""
    from fnnet import Dense, Dropout, Maxout, Network, losses, optim

    layers = []
    for width in config["hidden"]:
        if config["activation"] == "maxout":
            layers.append(Maxout(width, config["pieces"]))
        else:
            layers.append(Dense(width, config["activation"]))
        if config["dropout"] > 0:
            layers.append(Dropout(config["dropout"]))
    if config["loss"] == "cross_entropy":
        layers.append(Dense(config["classes_count"], "identity"))
        loss = losses.cross_entropy(from_logits=True)
    else:  # the seed's squared error on softmax outputs
        layers.append(Dense(config["classes_count"], "softmax"))
        loss = losses.squared_error("mean")
    net = Network(config["in_features"], tuple(layers))
    optimizer = optim.optimizer(config["optimizer"], config["lr"], momentum=config["momentum"],
                                adagrad_form=config["adagrad_form"], l1=config["l1"],
                                l2=config["l2"], clip=config["clip"])
    return net, loss, optimizer


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="epoch", leave=True, dynamic_ncols=True)


def run_epochs(run_dir: Path, config: dict, state, splits, epochs: int, *, best, quiet: bool):
    """Train ``epochs`` more epochs from ``state``: progress, history lines and a checkpoint
    after every epoch. Returns (FitResult, best) with best = (value, epoch, params)."""
    from fnnet import checkpoint, runs, train

    net, loss, optimizer = build(config)
    stopper = train.EarlyStopping(monitor="val_loss" if splits["val"] else "loss",
                                  patience=config["patience"], min_delta=config["min_delta"])
    bar = _progress(epochs, not quiet)
    best = list(best)

    def on_epoch(record, state):
        if stopper.improves(record, best[0]):
            best[:] = [record[stopper.monitor], record["epoch"], state.params]
        runs.append_history(run_dir, record)
        config["epochs_done"] = record["epoch"]
        config["best"] = {"value": best[0], "epoch": best[1], "monitor": stopper.monitor}
        checkpoint.save(run_dir / runs.CHECKPOINT, state, config, extra_params=best[2])
        shown = {k: record[k] for k in ("loss", "accuracy", "val_loss", "val_accuracy") if k in record}
        if bar is not None:
            bar.set_postfix({k: f"{v:.4f}" for k, v in shown.items()}, refresh=False)
            bar.update(1)
        elif not quiet:
            print(f"epoch {record['epoch']}: " + ", ".join(f"{k} {v:.4f}" for k, v in shown.items()))

    try:
        result = train.fit(net, loss, optimizer, state, splits["train"], epochs=epochs,
                           batch_size=config["batch_size"], validation_data=splits["val"],
                           grad=config["grad"], early_stopping=stopper if config["patience"] else None,
                           callback=on_epoch)
    except train.DivergenceError as e:
        checkpoint.save(run_dir / runs.CHECKPOINT, e.state, config, extra_params=best[2] or e.params)
        raise UserError(f"{e}\nThe last finite state is saved in {run_dir / runs.CHECKPOINT}; "
                        "try a smaller --lr or --clip.") from None
    finally:
        if bar is not None:
            bar.close()
    return result, tuple(best)


def report(run_dir: Path, config: dict, params, splits, history, *, quiet: bool, plot: bool = True):
    """Evaluate on train/validation/test, diagnose with the seed's recipe, write the summary
    and the learning curve; print the table and the diagnosis."""
    from fnnet import diagnostics, runs, train

    net, loss, _ = build(config)
    table = {name: train.evaluate(net, loss, params, *split)
             for name, split in splits.items() if split is not None}
    x_train, t_train = splits["train"]
    sample = slice(0, min(len(x_train), 1024))
    norms = diagnostics.gradient_norms(net, loss, params, x_train[sample], t_train[sample])
    dead = diagnostics.dead_units(net, params, x_train[sample])
    diagnosis = diagnostics.diagnose(table["train"]["accuracy"], table.get("val", {}).get("accuracy"),
                                     grad_norms=norms, dead=dead)
    summary = {"metrics": table, "best_epoch": config.get("best", {}).get("epoch"),
               "epochs_done": config.get("epochs_done"), "gradient_norms": norms,
               "dead_relu_fraction": dead, "diagnosis": {"verdict": diagnosis.verdict,
                                                         "advice": list(diagnosis.advice)}}
    runs.write_json(run_dir / runs.SUMMARY, summary)
    curve = None
    if plot and history:
        try:
            from fnnet import plots

            curve = plots.learning_curves(history, run_dir / runs.CURVE, title=str(run_dir))
        except ImportError as e:
            print(f"(no learning curve: {e})", file=sys.stderr)
    if not quiet:
        names = {"train": "train", "val": "validation", "test": "test"}
        print(f"\n{'':<12}{'loss':>10}{'accuracy':>10}")
        for name, m in table.items():
            print(f"{names[name]:<12}{m['loss']:>10.4f}{m['accuracy']:>10.2%}")
        print(f"\n{diagnosis}")
        print(f"\nrun saved in {run_dir}" + (f" (learning curve: {curve})" if curve else ""))
    return summary


# ---------------------------------------------------------------- the commands


def _train(args) -> int:
    import jax

    from fnnet import __version__, runs, train

    config = {k: getattr(args, k) for k in DEFAULTS}
    config.update(format=args.format, run_format_version=runs.RUN_FORMAT_VERSION,
                  fnnet_version=__version__)
    x, y = load_dataset(config)
    splits, classes, std = prepare(config, x, y)
    config.update(in_features=int(splits["train"][0].shape[1]), classes=classes.tolist(),
                  classes_count=max(len(classes), 2), standardizer=std.to_dict())
    net, loss, optimizer = build(config)
    config["network"] = net.to_config()
    name = Path(config["data"]).stem if config["data"] not in ("digits", "xor") else config["data"]
    run_dir = runs.create(args.out, name=name, overwrite=args.overwrite)
    runs.write_json(run_dir / runs.CONFIG, config)
    key = jax.random.key(config["seed"])
    params = net.init(jax.random.fold_in(key, 0))
    state = train.init_state(params, optimizer, jax.random.fold_in(key, 1))
    if not args.quiet:
        widths = [net.in_features] + [layer.features for layer in net.layers if hasattr(layer, "features")]
        print(f"training {' -> '.join(map(str, widths))} ({config['activation']}) on "
              f"{config['data']}: {len(splits['train'][0])} train, "
              f"{0 if splits['val'] is None else len(splits['val'][0])} validation, "
              f"{0 if splits['test'] is None else len(splits['test'][0])} test examples")
    result, best = run_epochs(run_dir, config, state, splits, config["epochs"],
                              best=(None, None, None), quiet=args.quiet)
    runs.write_json(run_dir / runs.CONFIG, config)
    report(run_dir, config, best[2] if best[2] is not None else result.params, splits,
           runs.read_history(run_dir), quiet=args.quiet, plot=not args.no_plot)
    return 0


def _restore(run_dir: Path):
    """(config, state, best) of a run directory."""
    import jax

    from fnnet import checkpoint, runs, train

    config = runs.read_config(run_dir)
    net, _, optimizer = build(config)
    key = jax.random.key(config["seed"])
    template = train.init_state(net.init(jax.random.fold_in(key, 0)), optimizer, jax.random.fold_in(key, 1))
    state, stored = checkpoint.load(run_dir / runs.CHECKPOINT, template)
    config = stored or config  # the checkpoint's copy is the one that matches the state
    best_params = checkpoint.load_params(run_dir / runs.CHECKPOINT, template.params, extra=True)
    best = config.get("best", {})
    return config, state, (best.get("value"), best.get("epoch"), best_params)


def _resume(args) -> int:
    from fnnet import runs

    run_dir = Path(args.run_dir)
    config, state, best = _restore(run_dir)
    x, y = load_dataset(config)
    splits, _, _ = prepare(config, x, y)
    config["epochs"] = int(state.epoch) + args.epochs
    result, best = run_epochs(run_dir, config, state, splits, args.epochs, best=best, quiet=args.quiet)
    runs.write_json(run_dir / runs.CONFIG, config)
    report(run_dir, config, best[2] if best[2] is not None else result.params, splits,
           runs.read_history(run_dir), quiet=args.quiet, plot=not args.no_plot)
    return 0


def _evaluate(args) -> int:
    from fnnet import train

    run_dir = Path(args.run_dir)
    config, state, best = _restore(run_dir)
    net, loss, _ = build(config)
    params = best[2]
    if args.data:
        x, y = load_dataset({**config, "data": args.data, "format": args.format,
                             "label_column": args.label_column})
        split_config = {**config, "val": 0.0, "test": 0.0}
        splits, _, _ = prepare(split_config, x, y)
        sets = {args.data: splits["train"]}
    else:
        splits, _, _ = prepare(config, *load_dataset(config))
        sets = {name: s for name, s in splits.items() if s is not None}
    results = {name: train.evaluate(net, loss, params, *s) for name, s in sets.items()}
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"{'':<12}{'loss':>10}{'accuracy':>10}{'examples':>10}")
        for name, m in results.items():
            print(f"{name:<12}{m['loss']:>10.4f}{m['accuracy']:>10.2%}{len(sets[name][0]):>10}")
    return 0


def _read_features(path: str, in_features: int):
    import numpy as np

    p = Path(path)
    if not p.exists():
        raise UserError(f"no such file: {path}")
    if p.suffix == ".npy":
        x = np.load(p, allow_pickle=False)
    elif p.suffix == ".npz":
        with np.load(p, allow_pickle=False) as archive:
            if "x" not in archive.files:
                raise UserError(f"{path}: expected an array 'x', found {sorted(archive.files)}")
            x = archive["x"]
    elif p.suffix in (".csv", ".txt"):
        rows = [line for line in p.read_text().splitlines() if line.strip()]
        try:
            float(rows[0].split(",")[0])
        except (ValueError, IndexError):
            rows = rows[1:]  # a header
        try:
            x = np.array([[float(c) for c in r.split(",")] for r in rows], np.float32)
        except ValueError as e:
            raise UserError(f"{path}: every cell must be a number ({e})") from None
    else:
        raise UserError(f"{path}: predict reads .npy, .npz (array 'x') or .csv feature files")
    x = np.asarray(x, np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != in_features:
        raise UserError(f"{path}: expected {in_features} features per row, got shape {x.shape}")
    return x


def _predict(args) -> int:
    import jax
    import numpy as np

    from fnnet import data

    run_dir = Path(args.run_dir)
    config, _, best = _restore(run_dir)
    net, loss, _ = build(config)
    x = _read_features(args.file, config["in_features"])
    x = data.features(x, config["in_features"], args.file)
    x = data.Standardizer.from_dict(config["standardizer"]).apply(x)
    y = net.apply(best[2], x)
    probs = jax.nn.softmax(y, axis=-1) if config["loss"] == "cross_entropy" else y
    classes = np.asarray(config["classes"])
    predicted = classes[np.argmax(np.asarray(probs), axis=-1)]
    out = open(args.out, "w") if args.out else sys.stdout
    try:
        out.write("index,prediction,probability\n")
        for i, (c, p) in enumerate(zip(predicted.tolist(), np.max(np.asarray(probs), axis=-1).tolist())):
            out.write(f"{i},{c},{p:.4f}\n")
    finally:
        if args.out:
            out.close()
    return 0


def _worked_example(args) -> int:
    from fnnet import worked_example as we

    figures = we.report(args.steps)
    if args.json:
        print(json.dumps({"figures": figures, "seed_quotes": we.SEED_QUOTES}, indent=2))
    else:
        print(we.format_report(figures))
    return 0


# ---------------------------------------------------------------- arguments


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def _fraction(text):
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text}")
    return value


def _label_column(text):
    try:
        return int(text)
    except ValueError:
        return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fnnet", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    d = DEFAULTS

    p = sub.add_parser("train", help="train a classifier (default: the digits data set)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", default=d["data"],
                   help="'digits', 'xor', or a file: .npz (x, y), .csv, svmlight, MNIST IDX (or its directory)")
    p.add_argument("--format", choices=["npz", "csv", "svmlight", "idx"], help="the file's format, "
                   "if its name does not tell")
    p.add_argument("--label-column", type=_label_column, default=d["label_column"],
                   help="CSV label column: index or name")
    p.add_argument("--hidden", type=_positive_int, nargs="+", default=d["hidden"], help="hidden layer widths")
    p.add_argument("--activation", default=d["activation"],
                   choices=["relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus", "maxout"])
    p.add_argument("--pieces", type=_positive_int, default=d["pieces"], help="pieces per maxout unit")
    p.add_argument("--dropout", type=_fraction, default=d["dropout"], help="dropout rate after each hidden layer")
    p.add_argument("--loss", choices=["cross_entropy", "squared_error"], default=d["loss"])
    p.add_argument("--optimizer", choices=["sgd", "momentum", "adagrad", "adam"], default=d["optimizer"])
    p.add_argument("--lr", type=float, default=d["lr"], help="learning rate eta")
    p.add_argument("--momentum", type=float, default=d["momentum"], help="momentum lambda")
    p.add_argument("--adagrad-form", choices=["seed", "optax"], default=d["adagrad_form"])
    p.add_argument("--l1", type=float, default=d["l1"], help="L1 strength lambda (weights only)")
    p.add_argument("--l2", type=float, default=d["l2"], help="L2 strength lambda (weights only)")
    p.add_argument("--clip", type=float, default=d["clip"], help="clip gradients to this global norm")
    p.add_argument("--epochs", type=_positive_int, default=d["epochs"])
    p.add_argument("--batch-size", type=_positive_int, default=d["batch_size"])
    p.add_argument("--patience", type=int, default=d["patience"], help="early-stopping patience in epochs (0: off)")
    p.add_argument("--min-delta", type=float, default=d["min_delta"])
    p.add_argument("--val", type=_fraction, default=d["val"], help="validation fraction")
    p.add_argument("--test", type=_fraction, default=d["test"], help="test fraction")
    p.add_argument("--seed", type=int, default=d["seed"])
    p.add_argument("--grad", choices=["autodiff", "backprop"], default=d["grad"],
                   help="gradient from jax.grad or the hand-written backprop")
    p.add_argument("--out", help="run directory (default: runs/<data>-N, the first free N)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--no-plot", action="store_true")
    p.set_defaults(run=_train)

    p = sub.add_parser("resume", help="train a run for more epochs")
    p.add_argument("run_dir")
    p.add_argument("--epochs", type=_positive_int, required=True, help="how many more epochs")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--no-plot", action="store_true")
    p.set_defaults(run=_resume)

    p = sub.add_parser("evaluate", help="loss and accuracy of a run's best parameters")
    p.add_argument("run_dir")
    p.add_argument("--data", help="a data file (default: the run's own splits)")
    p.add_argument("--format", choices=["npz", "csv", "svmlight", "idx"])
    p.add_argument("--label-column", type=_label_column, default=-1)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_evaluate)

    p = sub.add_parser("predict", help="predict classes for the rows of a feature file")
    p.add_argument("run_dir")
    p.add_argument("file", help=".npy, .npz (array 'x') or .csv of features")
    p.add_argument("--out", help="write the CSV here instead of standard output")
    p.set_defaults(run=_predict)

    p = sub.add_parser("worked-example", help="the seed's 2-2-2 backprop example, step by step")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--steps", type=_positive_int, default=10_000, help="number of updates")
    p.set_defaults(run=_worked_example)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from fnnet import checkpoint, runs

    user_errors = (UserError, ValueError, FileNotFoundError, PermissionError, IsADirectoryError,
                   ImportError, checkpoint.CheckpointError, runs.RunError)
    start = time.perf_counter()
    try:
        code = args.run(args)
    except user_errors as e:
        if os.environ.get("FNNET_DEBUG"):
            raise
        print(f"fnnet {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fnnet {args.command}: interrupted", file=sys.stderr)
        return 130
    if args.command in ("train", "resume") and not getattr(args, "quiet", False):
        print(f"({time.perf_counter() - start:.1f} s)")
    return code


if __name__ == "__main__":
    sys.exit(main())
