"""The public face (fnnet/__init__.py): an explicit table, every name in it resolving to
one object with one public path, lazy, so that ``import fnnet`` and ``fnnet --help``
import no JAX."""

import importlib
import inspect
import pkgutil
import subprocess
import sys
import types

import pytest

import fnnet
from tests.support import ROOT


def _all_modules():
    return [m.name for m in pkgutil.walk_packages(fnnet.__path__, "fnnet.") if m.name != "fnnet.__main__"]


def test_every_name_in_all_resolves_to_what_the_table_says_and_dir_shows_nothing_else():
    assert dir(fnnet) == sorted(fnnet.__all__) and len(set(fnnet.__all__)) == len(fnnet.__all__)
    for name in fnnet.__all__:
        module, attribute = fnnet._PUBLIC[name]
        want = importlib.import_module(module)
        if attribute is not None:
            want = getattr(want, attribute)
        assert getattr(fnnet, name) is want, name
        assert isinstance(want, types.ModuleType) == (attribute is None), name
    for name in ("fit", "fit_many", "evaluate", "search", "Network", "mlp", "Dense", "Dropout", "Maxout", "Layer",
                 "EarlyStopping", "FitResult", "TrainState", "DivergenceError", "losses", "activations",
                 "initializers", "optim", "backprop", "gradcheck", "data", "loaders", "checkpoint", "diagnostics",
                 "plots", "worked_example", "parallel"):
        assert name in fnnet.__all__, name


def test_the_functions_stay_functions_whatever_is_imported():
    # A submodule named like a face function would replace it on import (fnnet.fit was a
    # module once): import everything, then every face name is still the table's object.
    for name in _all_modules():
        importlib.import_module(name)
    for name in fnnet.__all__:
        module, attribute = fnnet._PUBLIC[name]
        if attribute is not None:
            assert getattr(fnnet, name) is getattr(importlib.import_module(module), attribute), name
    assert callable(fnnet.fit) and callable(fnnet.search) and callable(fnnet.evaluate)
    assert inspect.signature(fnnet.evaluate).parameters.keys() >= {"net", "loss", "params", "data"}


def test_each_public_object_has_one_public_path():
    # A face module's own definitions are reached through it alone, never also by a
    # top-level name or through a second face module.
    top = {id(getattr(fnnet, n)): n for n, (_, a) in fnnet._PUBLIC.items() if a is not None}
    paths: dict[int, list[str]] = {}
    for name, (module, attribute) in fnnet._PUBLIC.items():
        if attribute is not None:
            continue
        mod = getattr(fnnet, name)
        for key, value in vars(mod).items():
            if key.startswith("_") or getattr(value, "__module__", None) != mod.__name__:
                continue
            if inspect.isfunction(value) or inspect.isclass(value):
                assert id(value) not in top, f"fnnet.{name}.{key} is also fnnet.{top[id(value)]}"
                paths.setdefault(id(value), []).append(f"fnnet.{name}.{key}")
    assert all(len(p) == 1 for p in paths.values()), [p for p in paths.values() if len(p) > 1]


def test_an_unknown_name_is_an_attribute_error_naming_it():
    for name in ("train", "check", "step", "ensemble", "search_cv", "experiment"):
        with pytest.raises(AttributeError, match=f"module 'fnnet' has no attribute '{name}'"):
            getattr(fnnet, name)


@pytest.mark.parametrize("code", [
    "import fnnet",
    "import fnnet; fnnet.__version__; dir(fnnet)",
    "import fnnet.cli.main, fnnet.runs.pipeline, fnnet.runs.members, fnnet.structure.space",
    "from fnnet.cli.main import run; run(['--help'])",
    "from fnnet.cli.main import run; run(['search', '--help'])",
])
def test_import_fnnet_and_the_commands_help_leave_jax_out(code):
    probe = f"import sys\ntry:\n    {code}\nexcept SystemExit:\n    pass\nprint('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stdout + out.stderr


def test_the_console_script_is_the_commands_entry():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'fnnet = "fnnet.cli.main:entry"' in text
    from fnnet.cli import main

    assert callable(main.entry) and main.run(["--help"]) == 0
