"""PyTorch eager as its documentation teaches: ``nn.Sequential``, ``torch.optim`` and the
zero_grad / backward / step loop, one minibatch at a time. Convolutional nets are
``nn.Conv2d`` (``nn.Conv1d``), ``nn.MaxPool2d``, ``nn.Flatten`` and ``nn.Linear`` on
channels-first data (N, C, H, W), PyTorch's default layout: the data are handed over in
it, laid out once before timing."""

from __future__ import annotations

import contextlib

from bench.configs import ADAM_LR, SEED_ETA, Config
from bench.contenders.common import Runner, Skip, Task


def _activation(name: str):
    from torch import nn

    return {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}[name]()


def _mlp(config: Config) -> list:
    from torch import nn

    layers = []
    for i, (a, b) in enumerate(zip(config.sizes[:-1], config.sizes[1:])):
        layers.append(nn.Linear(a, b))
        last = i == len(config.sizes) - 2
        name = config.output if last else config.activation
        if name != "identity":
            layers.append(_activation(name))
    return layers


def _cnn(config: Config) -> list:
    """The convolutional net's modules, channels first."""
    from torch import nn

    spatial = len(config.in_shape) - 1
    conv = nn.Conv1d if spatial == 1 else nn.Conv2d
    pools = {"maxpool": nn.MaxPool1d if spatial == 1 else nn.MaxPool2d,
             "avgpool": nn.AvgPool1d if spatial == 1 else nn.AvgPool2d}
    layers = []
    for i, (spec, shape, _) in enumerate(config.shapes()):
        kind = spec[0]
        if kind == "conv":
            padding = (spec[3] if len(spec) > 3 else "VALID").lower()  # torch spells them "valid", "same"
            layers += [conv(shape[-1], spec[1], spec[2], padding=padding), _activation(config.activation)]
        elif kind in pools:
            layers.append(pools[kind](spec[1]))  # stride defaults to the window
        elif kind == "flatten":
            layers.append(nn.Flatten())
        else:
            last = i == len(config.layers) - 1
            layers.append(nn.Linear(shape[0], spec[1]))
            name = config.output if last else config.activation
            if name != "identity":
                layers.append(_activation(name))
    return layers


def make(task: Task) -> Runner:
    """Eager PyTorch on the device JAX uses (CPU, or CUDA on a GPU); default thread count;
    mixed precision through ``torch.autocast``."""
    try:
        import torch
        from torch import nn
    except ImportError as e:
        raise Skip(f"torch not importable ({e})") from None

    if not task.accelerator:
        device = "cpu"
    elif torch.cuda.is_available():
        device = "cuda"
        # JAX runs float32 matmuls on GPUs in TF32 by default; let torch do the same.
        torch.set_float32_matmul_precision("high")
        # XLA picks its convolution algorithms by autotuning; cuDNN does only when asked.
        torch.backends.cudnn.benchmark = True
    else:
        raise Skip("this torch build has no CUDA; a CPU row would not compare with JAX on the accelerator")
    config = task.config
    torch.manual_seed(0)
    model = nn.Sequential(*(_cnn(config) if config.convolutional else _mlp(config))).to(device)
    if config.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=SEED_ETA)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=ADAM_LR)
    if config.loss == "squared_error":
        def loss_fn(y, t):
            return 0.5 * ((t - y) ** 2).sum()
        t = torch.from_numpy(task.t).to(device)
    else:
        loss_fn = nn.CrossEntropyLoss()
        t = torch.from_numpy(task.t).long().to(device)
    x = torch.from_numpy(task.x_channels_first).to(device)
    n, batch = config.examples, config.batch
    generator = torch.Generator(device=device).manual_seed(1)

    def autocast():
        if not config.compute_dtype:
            return contextlib.nullcontext()
        return torch.autocast(device, dtype=getattr(torch, config.compute_dtype))

    state = {"loss": None}

    def run():
        for _ in range(task.epochs):
            perm = torch.randperm(n, device=device, generator=generator)
            for i in range(n // batch):
                idx = perm[i * batch:(i + 1) * batch]
                optimizer.zero_grad()
                with autocast():
                    y = model(x[idx])
                loss = loss_fn(y.float(), t[idx])
                loss.backward()
                optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()
        state["loss"] = loss.detach()

    return Runner(run, lambda: float(state["loss"]))
