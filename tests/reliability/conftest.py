"""Every test in this folder is a reliability test: ``pytest -m reliability`` runs them alone."""

import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/reliability/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.reliability)
