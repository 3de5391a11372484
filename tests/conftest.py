import os

# Tests compile hundreds of small programs; XLA's cheapest CPU pipeline keeps that
# quick without changing what is computed. Benchmarks run with the defaults.
os.environ.setdefault(
    "XLA_FLAGS", "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
)

# The command keeps compiled programs on disk; tests keep none (test_compilation_cache
# turns it on in subprocesses of its own).
os.environ["FNNET_CACHE_DIR"] = ""

import jax  # noqa: E402
import pytest  # noqa: E402
from hypothesis import Phase, settings  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")

# Derandomized, so CI draws the same examples every run; no shrinking, which can take
# many minutes on these compiled programs (the failing draw is printed instead).
settings.register_profile("fnnet", deadline=None, derandomize=True, print_blob=True,
                          phases=(Phase.explicit, Phase.reuse, Phase.generate))
settings.load_profile("fnnet")


@pytest.fixture
def x64():
    """64-bit mode for one test only; the process stays 32-bit."""
    with jax.enable_x64(True):
        yield


def pytest_sessionfinish(session):
    # Under pytest-xdist each worker hands its record to the controller.
    from tests.support import worst_seen

    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["fnnet_worst"] = dict(worst_seen.WORST)


def pytest_testnodedown(node, error):
    from tests.support import worst_seen

    for name, value in getattr(node, "workeroutput", {}).get("fnnet_worst", {}).items():
        worst_seen.record(name, value)


def pytest_terminal_summary(terminalreporter):
    from tests.support import worst_seen

    if worst_seen.WORST:
        terminalreporter.section("worst gradient disagreement seen (normwise relative, per leaf)")
        for name, value in sorted(worst_seen.WORST.items()):
            terminalreporter.write_line(f"{name:<36}{value:.3e}")
