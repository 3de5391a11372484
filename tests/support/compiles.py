"""Counting XLA compilations: every backend compile JAX reports, in any thread."""

import contextlib

import jax

_EVENTS: list = []
jax.monitoring.register_event_duration_secs_listener(
    lambda name, secs, **kw: _EVENTS.append(name) if name == "/jax/core/compile/backend_compile_duration" else None)


@contextlib.contextmanager
def counted():
    """``with counted() as n:`` ... ``n()`` is the number of compilations since entering."""
    start = len(_EVENTS)
    yield lambda: len(_EVENTS) - start
