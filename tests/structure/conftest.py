import pytest

import fnnet
from fnnet.structure import evolution
from tests.support.search import SMALL, SPACE


@pytest.fixture(scope="session")
def data():
    return evolution.load_splits(data="digits")


@pytest.fixture(scope="session")
def result(data):
    return fnnet.search(data[0], SPACE, generations=3, seed=0, **SMALL)
