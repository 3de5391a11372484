"""The compilation cache on disk (``fnnet.compilation_cache``): a second ``fnnet train``
with the same settings compiles nothing; ``--no-cache`` and an empty ``FNNET_CACHE_DIR``
turn it off; an unusable folder, a full disk or a damaged entry never fails a run and is
said once. Each run is its own process (a cache serves later processes)."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

# Runs the command and prints how many programs it compiled (cache hits are not compiles).
# "full": every cache write fails as on a full disk.
COUNTED = textwrap.dedent("""
    import sys, jax
    compiled, hits = [], []
    jax.monitoring.register_event_duration_secs_listener(
        lambda n, s, **k: compiled.append(n) if n == "/jax/core/compile/backend_compile_duration" else None)
    jax.monitoring.register_event_listener(
        lambda n, **k: hits.append(n) if n == "/jax/compilation_cache/cache_hits" else None)
    if sys.argv[1] == "full":
        import errno
        from jax._src import lru_cache
        def put(self, key, value):
            raise OSError(errno.ENOSPC, "No space left on device")
        lru_cache.LRUCache.put = put
    from fnnet.cli.main import run
    code = run(sys.argv[2:])
    print("COMPILED", len(compiled) - len(hits), "EXIT", code)
""")
TRAIN = ["train", "--epochs", "2", "--hidden", "16", "--quiet", "--no-plot"]


def _run(tmp_path, cache, *argv, mode="plain"):
    env = {**os.environ, "FNNET_CACHE_DIR": str(cache)}
    proc = subprocess.run([sys.executable, "-c", COUNTED, mode, *map(str, argv)], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300)
    *_, last = proc.stdout.split("\n")[:-1] or [""]
    words = last.split()
    assert words[:1] == ["COMPILED"], proc.stdout + proc.stderr
    return int(words[1]), int(words[3]), proc.stderr


def _metrics(run):
    return json.loads((run / "summary.json").read_text())["metrics"]


def test_a_second_run_compiles_nothing_and_trains_the_same(tmp_path):
    cache = tmp_path / "cache"
    first, code, err = _run(tmp_path, cache, *TRAIN, "--out", "a")
    assert code == 0 and err == "" and first > 0 and len(list(cache.glob("*-cache"))) >= first
    again, code, err = _run(tmp_path, cache, *TRAIN, "--out", "b")
    assert (again, code, err) == (0, 0, "")
    assert _metrics(tmp_path / "a") == _metrics(tmp_path / "b")
    # --no-cache compiles everything again, and an empty FNNET_CACHE_DIR turns the cache off
    assert _run(tmp_path, cache, "--no-cache", *TRAIN, "--out", "c")[0] == first
    assert _run(tmp_path, "", *TRAIN, "--out", "d")[0] == first


def test_help_names_the_folder_and_how_to_turn_it_off(tmp_path):
    env = {**os.environ, "FNNET_CACHE_DIR": str(tmp_path / "here")}
    out = subprocess.run([sys.executable, "-m", "fnnet", "--help"], capture_output=True, text=True, env=env).stdout
    assert str(tmp_path / "here") in " ".join(out.split()) and "--no-cache" in out
    env["FNNET_CACHE_DIR"] = ""
    out = subprocess.run([sys.executable, "-m", "fnnet", "--help"], capture_output=True, text=True, env=env).stdout
    assert "compilation cache is off" in " ".join(out.split())
    assert not (tmp_path / "here").exists()  # --help makes no folder


def test_a_folder_that_cannot_be_made_is_said_once_and_the_run_goes_on(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    cache = tmp_path / "file" / "cache"
    compiled, code, err = _run(tmp_path, cache, *TRAIN, "--out", "a")
    assert code == 0 and compiled > 0 and (tmp_path / "a" / "summary.json").is_file()
    assert err == f"fnnet: warning: the compilation cache {cache} cannot be used (Not a directory); " \
                  "going on without it\n"
    assert (tmp_path / "file").read_text() == "not a folder"


def test_a_full_disk_is_said_once_and_the_run_goes_on(tmp_path):
    cache = tmp_path / "cache"
    compiled, code, err = _run(tmp_path, cache, *TRAIN, "--out", "a", mode="full")
    assert code == 0 and compiled > 0 and (tmp_path / "a" / "summary.json").is_file()
    assert err == (f"fnnet: warning: the compilation cache {cache} cannot be used (writing an entry: OSError: "
                   "[Errno 28] No space left on device); going on without it\n")


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_damaged_entries_are_said_once_replaced_and_the_run_is_the_same(tmp_path, damage):
    cache = tmp_path / "cache"
    first, _, _ = _run(tmp_path, cache, *TRAIN, "--out", "a")
    entries = sorted(cache.glob("*-cache"))
    for entry in entries:  # a run killed while JAX wrote them, or a disk that flipped them
        data = entry.read_bytes()
        entry.write_bytes(os.urandom(64) if damage == "garbage" else data[: len(data) // 2])
    compiled, code, err = _run(tmp_path, cache, *TRAIN, "--out", "b")
    assert code == 0 and compiled == first and _metrics(tmp_path / "a") == _metrics(tmp_path / "b")
    assert err.startswith(f"fnnet: warning: the compilation cache {cache}: a damaged entry (") and \
        err.endswith(") was removed; its program is compiled again\n") and err.count("\n") == 1
    # stored again: the next run compiles nothing and says nothing
    assert _run(tmp_path, cache, *TRAIN, "--out", "c")[::2] == (0, "")


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1) for a private mount")
def test_a_real_full_cache_filesystem(tmp_path):
    """A tmpfs too small for the cache's entries, as a private mount where the system allows."""
    (tmp_path / "mnt").mkdir()
    script = (f'mount -t tmpfs -o size=16k tmpfs "$1" || {{ echo NO-MOUNT; exit 0; }}; '
              f'FNNET_CACHE_DIR="$1/cache" {sys.executable} -m fnnet {" ".join(TRAIN)} --out "$2/a"; echo "exit=$?"')
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", tmp_path / "mnt", tmp_path],
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 or "NO-MOUNT" in proc.stdout:
        pytest.skip(f"no private tmpfs here: {proc.stdout} {proc.stderr}")
    assert "exit=0" in proc.stdout and (tmp_path / "a" / "summary.json").is_file()
    assert proc.stderr.count("\n") == 1 and "No space left on device" in proc.stderr, proc.stderr
