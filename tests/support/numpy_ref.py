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


def conv(x, w, b, stride, pads, dilation):
    """The cross-correlation of the notes' designed structure, in loops: x (n, *spatial, c),
    w (*k, c, f), b (f,) or None, per-axis stride, (lo, hi) zero padding and dilation ->
    (n, *out, f) with out[o] = Σ_k x_pad[o s + k d] · w[k] + b."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    spatial, kernel = x.shape[1:-1], w.shape[:-2]
    x = np.pad(x, ((0, 0), *pads, (0, 0)))
    out = [(h + lo + hi - (k - 1) * d - 1) // s + 1 for h, k, s, d, (lo, hi) in zip(spatial, kernel, stride, dilation, pads)]
    y = np.zeros((x.shape[0], *out, w.shape[-1]))
    for o in np.ndindex(*out):
        for k in np.ndindex(*kernel):
            at = tuple(oi * s + ki * d for oi, ki, s, d in zip(o, k, stride, dilation))
            y[(slice(None), *o)] += x[(slice(None), *at)] @ w[k]
    return y if b is None else y + np.asarray(b, np.float64)


def pool(x, window, stride, reduce):
    """``reduce`` (np.max or np.mean) over each window of x (n, *spatial, c), in loops."""
    x = np.asarray(x, np.float64)
    out = [(h - k) // s + 1 for h, k, s in zip(x.shape[1:-1], window, stride)]
    y = np.zeros((x.shape[0], *out, x.shape[-1]))
    for o in np.ndindex(*out):
        region = tuple(slice(oi * s, oi * s + k) for oi, k, s in zip(o, window, stride))
        block = x[(slice(None), *region)].reshape(x.shape[0], -1, x.shape[-1])
        y[(slice(None), *o)] = reduce(block, axis=1)
    return y
