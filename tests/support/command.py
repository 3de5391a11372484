"""The fnnet command run in this process, as its tests run it, and what they share."""

from fnnet.cli import main as cli
from fnnet.runs import directories as runs

#: A run small enough for a test: 3 epochs of 32 hidden units, nothing printed or drawn.
FAST = ["--epochs", "3", "--hidden", "32", "--quiet", "--no-plot"]


def fnnet(*argv) -> int:
    """``fnnet ARGV...`` in this process: its exit status."""
    return cli.run([str(a) for a in argv])


def train_on(tmp_path, path, *extra) -> int:
    """A FAST run on the data file ``path`` into ``tmp_path / "run"`` (replaced)."""
    return fnnet("train", *FAST, "--data", path, "--out", tmp_path / "run", "--overwrite", *extra)


def write_csv(path, rows):
    """A CSV file of ``rows`` (no quoting); returns its path."""
    path.write_text("".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


def files_of(root) -> dict:
    """``{name: bytes}`` of a run directory's files (not the lock)."""
    return {p.name: p.read_bytes() for p in sorted(root.iterdir()) if p.name != runs.LOCK}
