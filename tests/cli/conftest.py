import pytest

from tests.support.command import FAST, fnnet


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A one-epoch run that tests read and never change."""
    out = tmp_path_factory.mktemp("trained") / "r"
    assert fnnet("train", *FAST, "--epochs", "1", "--out", out) == 0
    return out
