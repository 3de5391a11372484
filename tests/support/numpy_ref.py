"""Plain NumPy implementations of the notes' formulas: independent references."""

import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def backprop(params, x, t, hidden="sigmoid"):
    """Loss and gradients of a Dense network with ``hidden`` layers and a softmax output
    under cross-entropy summed over the batch: δ_L = y − t, δ_l = (δ_{l+1} W_{l+1}ᵀ) ⊙ f'(z_l),
    ∂C/∂W_l = a_{l-1}ᵀ δ_l, ∂C/∂b_l = Σ δ_l."""
    f = {"sigmoid": sigmoid, "tanh": np.tanh}[hidden]
    df = {"sigmoid": lambda a: a * (1 - a), "tanh": lambda a: 1 - a * a}[hidden]
    ws = [np.asarray(p["w"]) for p in params]
    bs = [np.asarray(p["b"]) for p in params]
    a = [np.asarray(x)]
    for w, b in zip(ws[:-1], bs[:-1]):
        a.append(f(a[-1] @ w + b))
    z = a[-1] @ ws[-1] + bs[-1]
    y = np.exp(z - z.max(1, keepdims=True))
    y /= y.sum(1, keepdims=True)
    loss = -np.sum(t * np.log(y))
    delta = y - t
    grads = [None] * len(ws)
    for layer in reversed(range(len(ws))):
        grads[layer] = {"w": a[layer].T @ delta, "b": delta.sum(0)}
        if layer:
            delta = (delta @ ws[layer].T) * df(a[layer])
    return loss, grads


def to_numpy(params):
    return [{k: np.array(v, np.float64) for k, v in e.items()} for e in params]
