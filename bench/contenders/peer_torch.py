"""PyTorch eager as its documentation teaches: ``nn.Sequential``, ``torch.optim`` and the
zero_grad / backward / step loop, one minibatch at a time."""

from __future__ import annotations

import contextlib

from bench.configs import ADAM_LR, SEED_ETA
from bench.contenders.common import Runner, Skip, Task


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
    else:
        raise Skip("this torch build has no CUDA; a CPU row would not compare with JAX on the accelerator")
    config = task.config
    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}
    torch.manual_seed(0)
    layers = []
    for i, (a, b) in enumerate(zip(config.sizes[:-1], config.sizes[1:])):
        layers.append(nn.Linear(a, b))
        last = i == len(config.sizes) - 2
        name = config.output if last else config.activation
        if name != "identity":
            layers.append(act[name]())
    model = nn.Sequential(*layers).to(device)
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
    x = torch.from_numpy(task.x).to(device)
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
