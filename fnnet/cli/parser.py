"""The ``fnnet`` command's arguments: one parser for every subcommand, each option checked
as the run's settings are (``fnnet.runs.settings``), a mistake said in one line. NumPy
only: ``--help`` never waits for JAX."""

from __future__ import annotations

import argparse
import textwrap

from fnnet import compilation_cache, loaders
from fnnet.names import ADAGRAD_FORMS, GRADS, OPTIMIZERS
from fnnet.runs import settings
from fnnet.runs.settings import DEFAULTS
from fnnet.structure.space import SEARCH_ACTIVATIONS, SEARCH_KINDS, SEARCH_POOLINGS, SearchSpace


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line on stderr (exit status 2), not the usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _typed(parse, check):
    """An argparse type: parse the text, then check it as the run's settings are checked."""
    def convert(text):
        try:
            return check(parse(text))
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return convert


def _float(text):
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"expected a number, got {text!r}") from None


def _int(text):
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected an integer, got {text!r}") from None


MAX_STEPS = 10**8  # about 10 s of the worked example's updates; more overflows int32 counters


def _steps(value):
    if settings.positive_int(value) > MAX_STEPS:
        raise ValueError(f"expected an integer in [1, {MAX_STEPS}], got {value}")
    return value


def _label_column(text):
    try:
        return int(text)
    except ValueError:
        return text


def _setting(p, name, parse, help, *, check=None, **kw):
    """An option for setting ``name``, checked by ``settings.SETTINGS[name]`` (or
    ``check``, for each of a list); its default (None) means the data set's default."""
    default = DEFAULTS[name]
    shown = "none" if default in (None, []) else " ".join(map(str, default)) if isinstance(default, list) else default
    p.add_argument(settings.option(name), type=_typed(parse, check or settings.SETTINGS[name]),
                   help=f"{help} (default: {shown})", **kw)


_RUN_DIR = (("run_dir",), {"help": "a run directory that fnnet train wrote"})
#: How a bundled data set's name and a file of that name are told apart, wherever data are taken.
_BUNDLED_WINS = "; a bundled name wins over a file so named: write ./digits for the file"
_QUIET = (("--quiet",), {"action": "store_true", "help": "print nothing but errors"})
_NO_PLOT = (("--no-plot",), {"action": "store_true", "help": "do not draw the learning curve"})
_JSON = (("--json",), {"action": "store_true", "help": "print machine-readable JSON"})


def _file_options(formats, *, label_column: bool):
    options = [(("--format",), {"choices": formats, "help": "the file's format, if its name does not tell"}),
               (("--header",), {"action": argparse.BooleanOptionalAction, "default": None,
                                "help": "a CSV file's first line is (--header) or is not (--no-header) a "
                                        "header (default: a header only if none of its cells is a number)"})]
    if label_column:
        options.append((("--label-column",), {"type": _label_column,
                                              "help": "CSV label column: index or name (default: -1)"}))
    return options


def _train_options(p) -> None:
    p.add_argument("--config", metavar="FILE",
                   help="a JSON object of settings (option names with _, e.g. {\"hidden\": [64], \"lr\": 0.01}; "
                        "fnnet search writes one); options given here override it")
    p.add_argument("--data", help="'digits', 'xor', or a file: .npz (x, y), .csv, svmlight, MNIST IDX "
                                  f"(or its directory) (default: digits){_BUNDLED_WINS}")
    for flags, kw in _file_options(loaders.FORMATS, label_column=True):
        p.add_argument(*flags, **kw)
    _setting(p, "shape", _int, "one example's shape, channels last, e.g. 8 8 1 (an 8x8 image of one channel) or "
             "40 1 (a signal); rows of a data file are reshaped to it (default for --conv: the data's own shape, "
             "digits 8 8 1, MNIST 28 28 1)", check=settings.positive_int, nargs="+", metavar="SIZE")
    _setting(p, "conv", _int, "convolution blocks before the hidden layers, their channels (e.g. --conv 16 32): "
             "each a convolution ('SAME' zero padding, the hidden activation) and a pooling",
             check=settings.positive_int, nargs="+", metavar="CHANNELS")
    _setting(p, "kernel", _int, "kernel size of the convolutions (one for all, or one per block)",
             check=settings.positive_int, nargs="+", metavar="K")
    _setting(p, "conv_stride", _int, "stride of the convolutions (one for all, or one per block)",
             check=settings.positive_int, nargs="+", metavar="S")
    _setting(p, "pool", str, f"pooling after each convolution, {', '.join(settings.POOLINGS)} (one for all, or one "
             "per block)", check=settings.POOLINGS_CHECK, nargs="+", metavar="KIND")
    _setting(p, "pool_size", _int, "pooling window (and stride) per axis")
    _setting(p, "hidden", _int, "hidden layer widths (none: give the option without a value, after --conv)",
             check=settings.positive_int, nargs="*", metavar="WIDTH")
    for name, parse, help, choices in (
            ("activation", str, "hidden activation", settings.ACTIVATION_CHOICES),
            ("pieces", _int, "pieces per maxout unit", None),
            ("dropout", _float, "dropout rate after each hidden layer, in [0, 1)", None),
            ("loss", str, "loss", settings.LOSS_CHOICES),
            ("optimizer", str, "optimizer", OPTIMIZERS),
            ("lr", _float, "learning rate eta, > 0", None),
            ("momentum", _float, "momentum lambda, in [0, 1)", None),
            ("adagrad_form", str, "Adagrad as in the notes or as optax has it", ADAGRAD_FORMS),
            ("l1", _float, "L1 strength lambda (weights only), >= 0", None),
            ("l2", _float, "L2 strength lambda (weights only), >= 0", None),
            ("clip", _float, "clip gradients to this global norm, > 0", None),
            ("epochs", _int, "epochs", None),
            ("batch_size", _int, "minibatch size", None),
            ("patience", _int, "early-stopping patience in epochs (0: off)", None),
            ("min_delta", _float, "smallest change that counts as an improvement", None),
            ("val", _float, "validation fraction, in [0, 1)", None),
            ("test", _float, "test fraction, in [0, 1)", None),
            ("seed", _int, "random seed, >= 0", None),
            ("grad", str, "gradient from jax.grad or the hand-written backprop", GRADS)):
        _setting(p, name, parse, help, **({"choices": choices} if choices else {}))
    p.add_argument("--members", type=_typed(_int, settings.ensemble_size), default=1,
                   help="train this many networks at once (seeds seed, seed+1, ...), print their leaderboard "
                        "and the ensemble's accuracy, save the best by validation loss as the run's model "
                        "(default: 1, a plain run)")
    p.add_argument("--out", help="run directory, new or empty (not a search folder, nor inside a run directory) "
                                 "(default: runs/<data>-N, the first free N)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run directory --out (only a run directory fnnet train created, plain or "
                        "--members, holding nothing else), once the new run has its first checkpoint")


def _at_least_one(text):
    value = _number(int)(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _number(kind):
    def convert(text):
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
    return convert


_SPACE = SearchSpace()  # the search space's defaults, shown in --help


def _search_options(p: argparse.ArgumentParser) -> None:
    """The search's options: the data (as ``fnnet train`` reads it), the evolution, the
    space's bounds, the outputs."""
    p.add_argument("--data", default="digits", help="'digits', 'xor', or a file: .npz (x, y), .csv, svmlight, "
                                                    f"MNIST IDX (or its directory) (default: digits){_BUNDLED_WINS}")
    for flags, kw in _file_options(loaders.FORMATS, label_column=True):
        p.add_argument(*flags, **kw)
    p.add_argument("--shape", type=_typed(_int, settings.positive_int), nargs="+", metavar="SIZE",
                   help="one example's shape, channels last (e.g. 8 8 1, or 40 1 for signals), so that convolutions "
                        "can be tried on rows of a data file (default: the data's own: digits 8 8 1, MNIST 28 28 1; "
                        "flat rows: fully connected only)")
    for name, default, help in (("val", 0.15, "validation fraction (the fitness), in (0, 1)"),
                                ("test", 0.2, "test fraction, in [0, 1)")):
        p.add_argument(settings.option(name), type=_number(float), default=default, help=f"{help} (default: {default})")
    p.add_argument("--seed", type=_number(int), default=0, help="seed of the split and of the search (default: 0)")
    for name, kind, default, help in (
            ("population", int, 16, "candidates per generation"), ("generations", int, 5, "generations"),
            ("epochs", int, 10, "epochs per candidate"), ("batch_size", int, 32, "minibatch size"),
            ("patience", int, 0, "stop a candidate after this many epochs without a better validation loss, "
                                 "keeping its best (0: never)"),
            ("elite", int, None, "best candidates carried unchanged (default: population // 8, at least 1)"),
            ("time_budget", float, None, "seconds; no generation starts after them (default: no limit)"),
            ("pieces", int, 2, "pieces per maxout unit")):
        p.add_argument(settings.option(name), type=_number(kind), default=default,
                       help=f"{help} (default: {default})" if default is not None else help)
    for name, kind, help in (("depth", int, "hidden layers of a fully connected candidate"),
                             ("width", int, "units per hidden layer"),
                             ("lr", float, "learning rate, log-uniform"), ("l2", float, "L2 strength"),
                             ("dropout", float, "dropout rate"),
                             ("blocks", int, "convolution blocks of a convolutional candidate"),
                             ("channels", int, "channels per block, log-uniform"),
                             ("head", int, "hidden layers after a convolutional candidate's blocks")):
        default = getattr(_SPACE, name)
        p.add_argument(settings.option(name), type=_number(kind), nargs=2, metavar=("MIN", "MAX"),
                       default=list(default), help=f"{help} (default: {default[0]:g} {default[1]:g})")
    for name, valid in (("activations", SEARCH_ACTIVATIONS), ("optimizers", OPTIMIZERS)):
        p.add_argument(settings.option(name), nargs="+", default=list(valid), metavar="NAME",
                       help=f"some of {', '.join(valid)} (default: all)")
    p.add_argument("--kinds", nargs="+", default=list(_SPACE.kinds), metavar="KIND",
                   help=f"structures to try, some of {', '.join(SEARCH_KINDS)} (default: both; convolutions need "
                        "examples with positions)")
    for name, kind, help in (("kernels", int, "kernel sizes a block can have (odd, none below a stride)"),
                             ("strides", int, "strides a block's convolution can have"),
                             ("poolings", str, f"poolings after a block, some of {', '.join(SEARCH_POOLINGS)} "
                                               "(window 2)")):
        default = list(getattr(_SPACE, name))
        p.add_argument(settings.option(name), nargs="+", type=_number(kind) if kind is int else str,
                       default=default, metavar="K" if kind is int else "NAME",
                       help=f"{help} (default: {' '.join(map(str, default))})")
    p.add_argument("--out", default="search", help="folder for best.json and fitness.png, marked as a search's "
                                                   "(not a run directory, nor inside one) (default: search)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the best.json and fitness.png of an earlier search in --out (nothing else)")
    p.add_argument("--top", type=_at_least_one, default=10, help="leaderboard lines to print (default: 10)")
    p.add_argument("--no-plot", action="store_true", help="do not draw the fitness per generation")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")


def make_parser(commands, description: str) -> argparse.ArgumentParser:
    """The command's parser; ``commands`` maps each subcommand to the function it runs."""
    where = compilation_cache.default_directory()
    epilog = (f"Compiled programs are kept in {where} for later runs (${compilation_cache.ENV} moves it; "
              f"--no-cache, or ${compilation_cache.ENV} set empty, turns it off)." if where is not None else
              f"The compilation cache is off (${compilation_cache.ENV} is set empty).")
    # Wrapped here, never inside the folder's name (argparse would break it).
    parser = _Parser(prog="fnnet", description=textwrap.fill(description, 79),
                     epilog=textwrap.fill(epilog, 79, break_long_words=False, break_on_hyphens=False),
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-cache", action="store_true",
                        help="compile every program afresh: no compilation cache on disk")
    sub = parser.add_subparsers(dest="command", required=True)
    table = {
        "train": ("train a classifier (default: the digits data set)", [_QUIET, _NO_PLOT]),
        "resume": ("train a run for more epochs", [
            _RUN_DIR, (("--epochs",), {"type": _typed(_int, settings.positive_int), "required": True,
                                       "help": "how many more epochs"}), _QUIET, _NO_PLOT]),
        "evaluate": ("loss and accuracy of a run's best parameters", [
            _RUN_DIR, (("--data",), {"help": "'digits' or 'xor' (all of a bundled data set), or a data file as "
                                             "fnnet train reads it (default: the run's own splits)"
                                             + _BUNDLED_WINS}),
            *_file_options(loaders.FORMATS, label_column=True), _JSON]),
        "predict": ("predict classes for the rows of a feature file", [
            _RUN_DIR, (("file",), {"help": ".npy, .npz (array 'x') or .csv of features, one example per row, or "
                                           "'digits' or 'xor' (all of a bundled data set's examples)"
                                           + _BUNDLED_WINS}),
            *_file_options(loaders.FEATURE_FORMATS, label_column=False),
            (("--out",), {"help": "write the CSV here instead of standard output"})]),
        "worked-example": ("the notes' 2-2-2 backprop example, step by step", [
            _JSON, (("--steps",), {"type": _typed(_int, _steps), "default": 10_000,
                                   "help": f"number of updates, at most {MAX_STEPS:,} (default: 10000)"})]),
        "search": ("evolve a network's structure: depth, widths, activation, dropout, L2, optimizer, "
                   "learning rate", []),
    }
    for name, (help, arguments) in table.items():
        p = sub.add_parser(name, help=help)
        if name == "train":
            _train_options(p)
        if name == "search":
            _search_options(p)
        for flags, kw in arguments:
            p.add_argument(*flags, **kw)
        p.set_defaults(run=commands[name])
    return parser
