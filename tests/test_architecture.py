"""The house as ARCHITECTURE.md draws it: which part may import which (read from the
code's own imports, at module level and inside functions), no import of the face from
inside the package, folders of at most 20 modules, no family of three told apart by a
name prefix, and no module named like a function it defines."""

import ast
import collections

import pytest

from tests.support import ROOT

PACKAGE = ROOT / "fnnet"

#: Each part of the package and its floor: a part imports only parts on lower floors
#: (and itself). The face and ``__main__`` stand above everything.
FLOORS = {
    "fnnet.version": 0, "fnnet.names": 0, "fnnet.loaders": 0, "fnnet.storage": 1, "fnnet.plots": 0,
    "fnnet.compilation_cache": 0, "fnnet.memory": 0,
    "fnnet.data": 1, "fnnet.model": 1, "fnnet.optim": 1,
    "fnnet.gradcheck": 2, "fnnet.diagnostics": 2, "fnnet.worked_example": 2,
    "fnnet.training": 3,
    "fnnet.runs": 4,
    "fnnet.structure": 5,
    "fnnet.cli": 6,
}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def _part(module: str) -> str | None:
    for part in sorted(FLOORS, key=len, reverse=True):
        if module == part or module.startswith(part + "."):
            return part
    return None


def _imports(path):
    """Every fnnet module a file imports, wherever the import stands."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] == "fnnet")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "fnnet":
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                is_module = (ROOT / (sub.replace(".", "/") + ".py")).exists() or (ROOT / sub.replace(".", "/")).is_dir()
                yield sub if is_module else node.module


def test_every_part_imports_only_lower_floors_and_never_the_face():
    arrows = []
    for name, path in _modules():
        if name in ("fnnet", "fnnet.__main__"):
            continue
        mine = _part(name)
        assert mine is not None, f"{name} is in no part of ARCHITECTURE.md"
        for target in _imports(path):
            assert target != "fnnet", f"{name} imports the face (fnnet/__init__.py)"
            theirs = _part(target)
            assert theirs is not None, f"{name} imports {target}, which is in no part"
            if theirs != mine and FLOORS[theirs] >= FLOORS[mine]:
                arrows.append(f"{name} -> {target}")
    assert arrows == []


def test_no_module_imports_itself_in_a_circle():
    graph = collections.defaultdict(set)
    for name, path in _modules():
        graph[name] |= {t for t in _imports(path) if t != name}

    def visit(node, trail):
        if node in trail:
            return trail[trail.index(node):] + [node]
        for nxt in sorted(graph.get(node, ())):
            found = visit(nxt, trail + [node])
            if found:
                return found
        return None

    for start in sorted(graph):
        if start != "fnnet":
            assert visit(start, []) is None


def test_folders_are_small_and_tell_their_modules_apart_by_concept_not_prefix():
    for folder in [PACKAGE, *[p for p in PACKAGE.rglob("*") if p.is_dir() and p.name != "__pycache__"]]:
        modules = [p.stem for p in folder.glob("*.py") if p.stem != "__init__"]
        assert len(modules) <= 20, folder
        prefixes = collections.Counter(m.split("_")[0] for m in modules if "_" in m)
        assert all(count < 3 for count in prefixes.values()), (folder, prefixes)


@pytest.mark.parametrize("name, path", list(_modules()), ids=lambda v: str(v))
def test_no_module_is_named_like_a_function_it_defines(name, path):
    stem = path.stem
    defined = {n.name for n in ast.parse(path.read_text()).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert stem not in defined, f"{name} defines {stem}: importing the module would hide the function"
