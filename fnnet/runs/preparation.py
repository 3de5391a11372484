"""From a run's settings to what training needs: the data set loaded and fingerprinted,
labels encoded, split and standardized (statistics of the training split only), and
the network, loss, optimizer, early stopping and initial state built."""

from __future__ import annotations

import hashlib
import math

import numpy as np

from fnnet import data, loaders
from fnnet.data import BUNDLED
from fnnet.runs.settings import BUNDLED_SHAPES, blocks, option


def is_bundled(source) -> bool:
    """Whether a data source names a bundled data set ("digits", "xor"). The name wins
    over a file of that name in the current directory; ``./digits`` (or a ``Path``) is
    always a file."""
    return isinstance(source, str) and source in BUNDLED


def no_file_options(source: str, **given) -> None:
    """A ValueError, as ``fnnet train`` says it, if a file's option (format, header,
    label_column: those not None) is given with the bundled data set ``source``."""
    file_only = [option(k) for k, v in given.items() if v is not None]
    if file_only:
        raise ValueError(f"{', '.join(file_only)} appl{'y' if len(file_only) > 1 else 'ies'} to data files, "
                         f"not to the bundled {source}")


def load_dataset(config: dict):
    """(x, y) raw, from the run's data source: a bundled data set or a file. x keeps each
    example's stored shape where the source has one (digits as 8×8 images, IDX images,
    npz arrays as saved); rows of CSV and svmlight are flat."""
    source = config["data"]
    if is_bundled(source):
        x, y = getattr(data, source)()
        shape = BUNDLED_SHAPES.get(source)
        return (x if shape is None else x.reshape(len(x), *shape[:-1])), y
    return loaders.load(source, format=config.get("format"), label_column=config.get("label_column", -1),
                        header=config.get("header"), keep_shape=True)


def example_shape(config: dict, x, *, source: str | None = None, images: bool | None = None) -> tuple:
    """One example's shape as the network takes it, channels last: ``--shape`` when given
    (holding each example's values); else, for ``--conv`` (or ``images``), the data's own
    shape, an image (h, w) with one channel, (h, w, c) as it is; else flat (features,). A
    ValueError says what to pass when convolutions meet flat rows, and refuses images that
    look channels-first ((c, h, w) with c <= 4 < h, w) or a ``--shape`` that puts the
    stored axes in another order (a reshape would scramble them)."""
    source = source or config["data"]
    stored, features = tuple(x.shape[1:]), math.prod(x.shape[1:])
    if config.get("shape") is not None:
        shape = tuple(config["shape"])
        if math.prod(shape) != features:
            raise ValueError(f"--shape {' '.join(map(str, shape))} holds {math.prod(shape)} values, but each "
                             f"example of {source} has {features}{f' (shape {stored})' if len(stored) > 1 else ''}")
        if loaders.checks.reordered(stored, shape):
            raise ValueError(f"--shape {' '.join(map(str, shape))}: the examples of {source} are stored as {stored}, "
                             "the same sizes in another order, which a reshape would scramble: leave --shape out, or "
                             f"store x with its axes moved ({loaders.checks.arrangement_hint(stored, shape)})")
        return shape
    if not (bool(config["conv"]) if images is None else images):
        return (features,)
    if len(stored) == 1:
        if config["conv"]:
            raise ValueError(f"--conv needs one example's shape, channels last, but {source} has flat rows of "
                             f"{features} values; pass --shape, e.g. --shape H W C for images or --shape "
                             f"{features} 1 for signals")
        return (features,)  # the search on flat rows: fully connected candidates only
    if len(stored) == 2:
        return (*stored, 1)
    if len(stored) == 3:
        if stored[0] <= 4 < min(stored[1:]):
            c, h, w = stored
            raise ValueError(f"{source}: examples of shape {stored} look channels-first ({c} channel"
                             f"{'s' * (c > 1)} of {h}x{w}); fnnet takes channels last: store "
                             f"x = np.moveaxis(x, 1, -1), of shape (n, {h}, {w}, {c}) (or pass --shape {c} {h} {w} if "
                             "they are (height, width, channels) already)")
        return stored
    raise ValueError(f"{source}: expected examples of (length, channels), (height, width) or (height, width, "
                     f"channels), found {stored}; pass --shape")


def check_blocks(config: dict, in_shape: tuple) -> None:
    """The convolution blocks of a run's settings checked against one example's shape,
    ``(..., channels)``, before anything is built; a ValueError names the option: a kernel
    larger than 2h - 1 for an axis of h positions (its outer taps would only ever read
    the zero padding, in every block: none sees more positions than the examples have), a
    stride larger than its kernel (the convolution would skip inputs), a pooling window
    larger than what its convolution leaves ("SAME": ⌈h / stride⌉ of h)."""
    if not config["conv"]:
        return
    spatial = tuple(in_shape[:-1])
    most = 2 * min(spatial) - 1
    many = len(config["conv"]) > 1
    for i, (channels, kernel, stride, pool) in enumerate(blocks(config), 1):
        where = (f"block {i} of --conv {' '.join(map(str, config['conv']))}" if many else
                 f"the block of --conv {channels}")
        if kernel > most:
            raise ValueError(f"--kernel {kernel}: {where} has a kernel larger than examples of shape "
                             f"{tuple(in_shape)} can use (its outer taps would only ever read the zero padding); "
                             f"expected at most {most} (2 x {min(spatial)} - 1)")
        if stride > kernel:
            raise ValueError(f"--conv-stride {stride}: {where} has a stride larger than its kernel of {kernel}, so "
                             "its convolution would skip inputs; expected a stride no larger than the kernel")
        spatial = tuple(-(-h // stride) for h in spatial)
        if pool != "none":
            size = config["pool_size"]
            if min(spatial) < size:
                fixes = ["a smaller --pool-size", f"--pool none for {'that block' if many else 'it'}"]
                fixes += ["a smaller --conv-stride"] * (stride > 1) + ["fewer blocks"] * many
                raise ValueError(f"--pool-size {size}: {where} leaves {spatial} positions of the examples' "
                                 f"{tuple(in_shape[:-1])}, too few for its {pool} pooling of {size}; use "
                                 f"{', '.join(fixes[:-1])} or {fixes[-1]}")
            spatial = tuple(h // size for h in spatial)


def data_digest(x, y) -> str:
    """SHA-256 of a data set as loaded (x's rows flattened: the same whatever shape the
    network gives an example), so a run notices when its data file changed."""
    h = hashlib.sha256()
    for a in (np.ascontiguousarray(np.reshape(x, (len(x), -1))), np.ascontiguousarray(y)):
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _class_labels(y, source: str):
    y = np.asarray(y)
    if y.ndim != 1 and not (y.ndim == 2 and y.shape[1] == 1 and not np.issubdtype(y.dtype, np.integer)):
        raise loaders.DataError(f"{source}: expected one class label per example (shape (n,)), found labels of "
                                f"shape {y.shape}; store one-hot targets as class indices")
    y = y.reshape(-1)
    if np.issubdtype(y.dtype, np.integer):
        return y
    if not np.all(np.equal(np.mod(y, 1), 0)):
        raise loaders.DataError(f"{source}: expected class labels (integers), found {y.dtype} values such as "
                                f"{y[np.mod(y, 1) != 0][:3].tolist()}")
    if np.all(np.abs(y) <= 2**31 - 1):
        return y.astype(np.int64)
    raise loaders.DataError(f"{source}: expected class labels that fit in int32, found values such as "
                            f"{y[np.abs(y) > 2**31 - 1][:3].tolist()}")


def prepare_splits(config: dict, x, y, *, source: str | None = None):
    """Encode labels, split, standardize each feature (statistics of the training split
    only). Returns ``(splits, classes, standardizer)``, splits {"train", "val", "test"} of
    (x, codes) or None, x (n, *config["in_shape"]) (flat rows without one). With the run's
    "classes" and "standardizer" in ``config``, uses those."""
    source = source or config["data"]
    y = _class_labels(y, source)
    x = np.reshape(x, (len(x), -1))  # standardized feature by feature, whatever the shape
    if "in_features" in config and x.shape[1] != config["in_features"]:
        raise loaders.DataError(f"{source}: expected {config['in_features']} features per example (as the run "
                                f"was trained on), found {x.shape[1]}")
    if "classes" in config:
        classes = np.asarray(config["classes"])
        index = {c: i for i, c in enumerate(classes.tolist())}
        unknown = sorted(set(y.tolist()) - set(index))
        if unknown:
            raise loaders.DataError(f"{source}: labels {unknown[:5]} were not among the run's classes "
                                    f"{classes.tolist()}")
        codes = np.array([index[v] for v in y.tolist()], np.int32)
    else:
        codes, classes = data.encode_labels(y)
        if len(classes) < 2:
            raise loaders.DataError(f"{source}: every label is {classes.tolist()[0]!r}; a classifier needs "
                                    "at least two classes")
    train, val, test = data.train_val_test_split(x, codes, val=config["val"], test=config["test"],
                                                 seed=config["seed"])
    std = (data.Standardizer.from_dict(config["standardizer"]) if "standardizer" in config
           else data.Standardizer.fit(train[0]))
    splits = {"train": train, "val": val, "test": test}
    return {k: None if v is None else (shaped(config, std.apply(v[0])), v[1]) for k, v in splits.items()}, classes, std


def shaped(config: dict, x):
    """Flat rows x (n, features) as the run's network takes them: (n, *in_shape)."""
    shape = config.get("in_shape")
    return x if shape is None or len(shape) == 1 else x.reshape(len(x), *shape)


def build(config: dict):
    """``(net, loss, optimizer)`` from a run's settings (``classes`` and ``in_shape``
    known): the convolution blocks (each a convolution with "SAME" zero padding and the
    hidden activation, then its pooling), Flatten and Dropout after them, the hidden
    layers each with its Dropout, the output layer."""
    from fnnet.model import losses
    from fnnet.model.layers.conv import Conv1D, Conv2D
    from fnnet.model.layers.dense import Dense
    from fnnet.model.layers.dropout import Dropout
    from fnnet.model.layers.flatten import Flatten
    from fnnet.model.layers.maxout import Maxout
    from fnnet.model.layers.pool import AvgPool1D, AvgPool2D, MaxPool1D, MaxPool2D
    from fnnet.model.network import Network

    in_shape = tuple(config.get("in_shape") or (config["in_features"],))
    layers = []
    images = len(in_shape) == 3
    for channels, kernel, stride, pool in blocks(config):
        layers.append((Conv2D if images else Conv1D)(channels, kernel, config["activation"], stride=stride,
                                                     padding="SAME"))
        if pool != "none":
            kind = {("max", True): MaxPool2D, ("max", False): MaxPool1D, ("avg", True): AvgPool2D,
                    ("avg", False): AvgPool1D}[pool, images]
            layers.append(kind(config["pool_size"]))
    if len(in_shape) > 1:
        layers.append(Flatten())
        if config["conv"] and config["dropout"] > 0:
            layers.append(Dropout(config["dropout"]))
    for width in config["hidden"]:
        if config["activation"] == "maxout":
            layers.append(Maxout(width, config["pieces"]))
        else:
            layers.append(Dense(width, config["activation"]))
        if config["dropout"] > 0:
            layers.append(Dropout(config["dropout"]))
    if config["loss"] == "cross_entropy":
        layers.append(Dense(len(config["classes"]), "identity"))
        loss = losses.cross_entropy(from_logits=True)
    else:  # the notes' squared error on softmax outputs
        layers.append(Dense(len(config["classes"]), "softmax"))
        loss = losses.squared_error("mean")
    net = Network(in_shape if len(in_shape) > 1 else in_shape[0], tuple(layers))
    return net, loss, _optimizer(config)


def _optimizer(config: dict):
    from fnnet import optim

    return optim.optimizer(config["optimizer"], config["lr"], momentum=config["momentum"],
                           adagrad_form=config["adagrad_form"], l1=config["l1"], l2=config["l2"], clip=config["clip"])


def stopper(config: dict, has_val: bool):
    """The run's EarlyStopping (on the validation loss when there is a validation split),
    or None with patience 0."""
    from fnnet.training.monitor import EarlyStopping

    if not config["patience"]:
        return None
    return EarlyStopping(monitor="val_loss" if has_val else "loss", patience=config["patience"],
                         min_delta=config["min_delta"])


def template(net, optimizer, config, early_stopping):
    """A fresh TrainState of the run (its initial state, and the shape of its checkpoints)."""
    import jax

    from fnnet.training.state import init_state

    key = jax.random.key(config["seed"])
    state = init_state(net.init(jax.random.fold_in(key, 0)), optimizer, jax.random.fold_in(key, 1))
    return state if early_stopping is None else state._replace(stopping=early_stopping.start(state.params))
