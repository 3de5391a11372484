"""An ensemble's prediction: the mean of its members' probabilities, and its accuracy."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from fnnet import device_data, losses as losses_
from fnnet.ensemble_args import member_dtype
from fnnet.network import Network


def _outputs_are_probabilities(net: Network) -> bool:
    """Whether the last layer with an activation ends in softmax or sigmoid."""
    last = next((a for a in (getattr(layer, "activation", None) for layer in reversed(net.layers))
                 if a is not None), None)
    return getattr(last, "name", last) in ("softmax", "sigmoid")


@functools.lru_cache(maxsize=32)
def _predict_program(net: Network, probabilities: bool):
    def predict(params, x):
        y = jax.vmap(lambda p: net.apply(p, x))(params)  # (N, ..., out)
        if not probabilities:
            y = jax.nn.sigmoid(y) if net.out_features == 1 else jax.nn.softmax(y, axis=-1)
        return jnp.mean(y, axis=0)

    return jax.jit(predict)


def predict(net: Network, params, x, *, probabilities: bool | None = None):
    """The ensemble's probabilities ``(1/N) Σ_i p_i(x)``: x (batch, in) -> (batch, out).
    ``p_i`` is member i's output when ``probabilities`` (the outputs already are: a
    softmax or sigmoid last activation, inferred when None), else the softmax of its
    logits (the sigmoid for a single output). ``params``: stacked, leading axis N."""
    member_dtype(net, params)
    if probabilities is None:
        probabilities = _outputs_are_probabilities(net)
    return _predict_program(net, bool(probabilities))(params, x)


def accuracy(net: Network, params, x, t, *, probabilities: bool | None = None) -> float:
    """The ensemble's accuracy: the fraction of examples whose argmax of ``predict``
    matches the label t (n,) or one-hot target (n, out); for one output, p > 0.5."""
    dtype = member_dtype(net, params)
    x, t = device_data.to_device(x, t, net.in_features, net.out_features, dtype, "data")
    return float(losses_.accuracy(predict(net, params, x, probabilities=probabilities), t))
