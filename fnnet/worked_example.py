"""The notes' worked example: a 2-2-2 sigmoid network, squared error, η = 0.5.

Weights w1..w8 = .15, .20, .25, .30, .40, .45, .50, .55, biases b1 = .35 (hidden) and
b2 = .60 (output), held fixed as in the notes' code; input (.05, .10), target (.01, .99).
``report()`` recomputes every figure the notes print, in float64, with the hand-written
backprop; all updates run as one compiled ``lax.scan``.

The notes' figures after the first update (0.291027924) and after 10,000 updates
(0.000035085, outputs 0.015912196 / 0.984065734) come from computing the hidden deltas
with the already-updated output weights. The gradient-descent step, which updates all
weights from the same gradient, gives 0.2910277737 and 3.51019e-5 (outputs 0.0159136 /
0.9840643). ``train(..., order="notes")`` reproduces the notes' numbers.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from fnnet import optim
from fnnet.model import backprop, losses
from fnnet.model.layers.dense import Dense
from fnnet.model.network import Network

NET = Network(2, (Dense(2, "sigmoid"), Dense(2, "sigmoid")))
LOSS = losses.squared_error("sum")
X = (0.05, 0.10)
T = (0.01, 0.99)
ETA = 0.5
STEPS = 10_000
# Where each of the notes' weights lives: (layer, row = from-unit, column = to-unit).
WEIGHTS = {"w1": (0, 0, 0), "w2": (0, 1, 0), "w3": (0, 0, 1), "w4": (0, 1, 1),
           "w5": (1, 0, 0), "w6": (1, 1, 0), "w7": (1, 0, 1), "w8": (1, 1, 1)}
NOTES_WEIGHTS = {"w1": 0.15, "w2": 0.20, "w3": 0.25, "w4": 0.30,
                "w5": 0.40, "w6": 0.45, "w7": 0.50, "w8": 0.55}
ORDERS = ("simultaneous", "notes")

#: Figures as the notes print them.
NOTES_QUOTES = {
    "net_h1": 0.3775, "out_h1": 0.593269992, "out_h2": 0.596884378, "net_o1": 1.105905967,
    "out_o1": 0.75136507, "out_o2": 0.772928465, "E_o1": 0.274811083, "E_o2": 0.023560026,
    "E_total": 0.298371109, "dE/dw5": 0.082167041, "dE/dw1": 0.000438568,
    "w5+": 0.35891648, "w6+": 0.408666186, "w7+": 0.511301270, "w8+": 0.561370121,
    "w1+": 0.149780716, "w2+": 0.19956143, "w3+": 0.24975114, "w4+": 0.29950229,
    "E_after_1": 0.291027924, "E_after_10000": 0.000035085,
    "out_o1_after_10000": 0.015912196, "out_o2_after_10000": 0.984065734,
}


def notes_params(dtype=jnp.float64) -> list[dict]:
    """The notes' starting parameters as an fnnet pytree."""
    w = jnp.zeros((2, 2, 2), dtype)
    for name, (layer, i, j) in WEIGHTS.items():
        w = w.at[layer, i, j].set(NOTES_WEIGHTS[name])
    return [{"w": w[0], "b": jnp.full((2,), 0.35, dtype)},
            {"w": w[1], "b": jnp.full((2,), 0.60, dtype)}]


def named_weights(tree) -> dict[str, float]:
    """``{"w1": ..., "w8": ...}`` from a params (or gradient) tree."""
    return {n: float(tree[layer]["w"][i, j]) for n, (layer, i, j) in WEIGHTS.items()}


def _data(dtype):
    return jnp.asarray(X, dtype), jnp.asarray(T, dtype)


def _notes_order_step(params, x, t):
    """The notes' code's step: output weights first, then hidden deltas through the updated
    output weights (not gradient descent; kept to reproduce the notes' figures)."""
    (hidden, output), (p1, p2) = NET.layers, params
    y, (c1, c2) = NET.forward_with_cache(params, x[None, :])
    d2 = output.delta(c2, LOSS.grad(y, t[None, :]))
    _, g2 = output.backward(p2, c2, d2)
    p2 = {"w": p2["w"] - ETA * g2["w"], "b": p2["b"]}
    g_hidden, _ = output.backward(p2, c2, d2)
    _, g1 = hidden.backward(p1, c1, hidden.delta(c1, g_hidden))
    return [{"w": p1["w"] - ETA * g1["w"], "b": p1["b"]}, p2]


def train(params, steps: int = STEPS, *, train_biases: bool = False, order: str = "simultaneous"):
    """``(params, errors)`` after ``steps`` updates, ``errors[k]`` being E_total after k + 1
    of them; plain SGD with the hand-written gradient, as one compiled loop."""
    if order not in ORDERS:
        raise ValueError(f"order: expected one of {list(ORDERS)}, got {order!r}")
    if order == "notes" and train_biases:
        raise ValueError("order='notes' reproduces the notes' code, which never trains biases")
    return _train(params, steps, train_biases, order)


@jax.jit(static_argnums=(1, 2, 3))
def _train(params, steps, train_biases, order):
    dtype = params[0]["w"].dtype
    x, t = _data(dtype)
    opt = optim.sgd(ETA) if train_biases else optax.chain(optim.sgd(ETA), optim.freeze(optim.biases_only))

    def step(carry, _):
        params, state = carry
        if order == "notes":
            params = _notes_order_step(params, x, t)
        else:
            _, grads = backprop.loss_and_grad(NET, LOSS, params, x, t)
            updates, state = opt.update(grads, state, params)
            params = optax.apply_updates(params, updates)
        return (params, state), LOSS(NET.apply(params, x), t)

    (params, _), errors = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
    return params, errors


def report(steps: int = STEPS) -> dict:
    """Every figure of the worked example, in float64: the forward pass, the error, the
    gradients, the updated weights, and the error and outputs after 1 and ``steps``
    updates (gradient descent, the notes' code order, and biases trained too)."""
    with jax.enable_x64(True):
        params = notes_params()
        x, t = _data(jnp.float64)
        y, (c1, c2) = NET.forward_with_cache(params, x)
        e = 0.5 * (t - y) ** 2
        loss, grads = backprop.loss_and_grad(NET, LOSS, params, x, t)
        g = named_weights(grads)
        out = {
            "net_h1": float(c1.z[0, 0]), "out_h1": float(c1.a[0, 0]), "out_h2": float(c1.a[0, 1]),
            "net_o1": float(c2.z[0, 0]), "out_o1": float(y[0]), "out_o2": float(y[1]),
            "E_o1": float(e[0]), "E_o2": float(e[1]), "E_total": float(loss),
            **{f"dE/d{n}": v for n, v in g.items()},
        }
        updated, _ = train(params, 1)
        out.update({f"{n}+": v for n, v in named_weights(updated).items()})
        runs = {"gradient_descent": dict(), "notes_order": dict(order="notes"),
                "biases_trained": dict(train_biases=True)}
        for label, kwargs in runs.items():
            final, errors = train(params, steps, **kwargs)
            y_final = NET.apply(final, x)
            out[label] = {"steps": steps, "E_after_1": float(errors[0]),
                          f"E_after_{steps}": float(errors[-1]),
                          f"E_after_{steps - 1}": float(errors[-2]) if steps > 1 else None,
                          "out_o1": float(y_final[0]), "out_o2": float(y_final[1])}
    return out


def format_report(figures: dict) -> str:
    """``report()``'s figures as a table beside the notes' quotes, then the three runs."""
    quotes = NOTES_QUOTES
    lines = ["The notes' worked example: 2-2-2 sigmoid network, squared error, eta = 0.5, float64",
             f"{'figure':<22}{'fnnet':>22}{'the notes':>16}"]
    for name, value in figures.items():
        if not isinstance(value, dict):
            quoted = quotes.get(name)
            lines.append(f"{name:<22}{value:>22.12g}{'' if quoted is None else format(quoted, '.9g'):>16}")
    for label, run in (("gradient descent", "gradient_descent"), ("notes' code order", "notes_order"),
                       ("biases trained too", "biases_trained")):
        r = figures[run]
        steps = r["steps"]
        lines.append(f"\n{label}: E after 1 update {r['E_after_1']:.10g}, after {steps} updates "
                     f"{r[f'E_after_{steps}']:.6g}, outputs ({r['out_o1']:.7g}, {r['out_o2']:.7g})")
    lines.append(f"\nthe notes' quotes: E after 1 update {quotes['E_after_1']}, after 10000 updates "
                 f"{quotes['E_after_10000']}, outputs ({quotes['out_o1_after_10000']}, "
                 f"{quotes['out_o2_after_10000']}).\nThose match the notes' code order, which computes "
                 "the hidden deltas with the already-updated output weights; gradient descent updates "
                 "every weight from the same gradient.")
    return "\n".join(lines)
