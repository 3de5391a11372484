"""The worst disagreement each gradient test saw, printed at the end of the run."""

WORST: dict[str, float] = {}


def record(name: str, value: float) -> None:
    WORST[name] = max(WORST.get(name, 0.0), value)
