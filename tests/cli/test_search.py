"""fnnet search never loses work: an earlier search's files stay unless --overwrite, a
second search into the same folder is refused while the first runs, bad settings are
refused before the folder is made, and a refused or failed search leaves no folder."""

import importlib.util
import json

import pytest

from fnnet.cli import main as cli
from fnnet.cli import search as search_command
from fnnet.runs import settings
from fnnet.storage import locks
from tests.support.command import fnnet

TINY = ["--population", "2", "--generations", "1", "--epochs", "1", "--depth", "1", "1", "--width", "8", "8",
        "--kinds", "dense", "--no-plot", "--quiet"]


def test_an_earlier_search_is_kept_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "s"
    assert fnnet("search", *TINY, "--out", out) == 0
    assert sorted(p.name for p in out.iterdir()) == [".fnnet-lock", ".fnnet-search", "best.json"]
    (out / "best.json").write_text('{"mine": 1}')
    (out / "notes.txt").write_text("the user's")
    assert fnnet("search", *TINY, "--out", out) == 2
    err = capsys.readouterr().err
    assert err == (f"fnnet search: error: --out {out} already holds best.json of an earlier search; pass "
                   "--overwrite to replace them, or choose another --out\n")
    assert (out / "best.json").read_text() == '{"mine": 1}'
    (out / "fitness.png").write_bytes(b"an earlier search's picture")
    assert fnnet("search", *TINY, "--out", out, "--overwrite") == 0
    assert not (out / "fitness.png").exists()  # --no-plot: no stale picture beside the new best.json
    best = json.loads((out / "best.json").read_text())
    assert best["hidden"] == [8] and best["epochs"] == 1
    assert (out / "notes.txt").read_text() == "the user's"  # nothing else touched


def test_a_best_json_that_no_search_wrote_is_never_replaced(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "best.json").write_text('{"mine": 1}')
    for extra in ([], ["--overwrite"]):
        assert fnnet("search", *TINY, "--out", out, *extra) == 2
        assert capsys.readouterr().err == (
            f"fnnet search: error: --out {out} holds best.json, which fnnet search did not write (no .fnnet-search "
            "file); move it elsewhere, or choose another --out\n")
    assert sorted(p.name for p in out.iterdir()) == ["best.json"] and (out / "best.json").read_text() == '{"mine": 1}'


def test_a_folder_of_the_users_is_marked_while_the_search_writes_and_left_as_it_was_if_it_writes_nothing(
        tmp_path, capsys, monkeypatch):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("the user's")
    monkeypatch.setattr(search_command, "progress", lambda total, unit, quiet: (_interrupt, lambda: None))
    assert fnnet("search", *TINY, "--out", out) == 130  # Ctrl-C before any generation ended: nothing written
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert fnnet("search", *TINY, "--out", tmp_path / "a" / "b") == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # the folders made for it went again


def _interrupt(label, text):
    raise KeyboardInterrupt


def test_a_second_search_into_a_locked_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "s"
    out.mkdir()
    held = locks.DirectoryLock(out, "search folder")  # another search, still running
    try:
        assert fnnet("search", *TINY, "--out", out) == 2
    finally:
        held.release()
    assert "search folder " + str(out) + " is in use by another fnnet process" in capsys.readouterr().err
    assert not (out / "best.json").exists()


def test_bad_settings_are_refused_before_the_folder_is_made(tmp_path, capsys):
    out = tmp_path / "new"
    assert fnnet("search", *TINY[2:], "--population", "1", "--out", out) == 2
    assert "population" in capsys.readouterr().err
    assert not out.exists()
    assert fnnet("search", *TINY, "--out", out, "--width", "9", "3") == 2
    assert not out.exists()
    assert fnnet("search", *TINY, "--out", out, "--patience", "-1") == 2
    assert capsys.readouterr().err.endswith("patience: expected an integer >= 0 (0: none), got -1\n")
    assert not out.exists()


def test_patience_stops_candidates_early_and_is_written_with_the_best(tmp_path):
    out = tmp_path / "s"
    assert fnnet("search", *TINY[:4], "--epochs", "3", *TINY[6:], "--patience", "1", "--out", out) == 0
    best = json.loads((out / "best.json").read_text())
    assert best["patience"] == 1 and best["epochs"] == 3  # fnnet train --config stops as the search did


def test_ctrl_c_keeps_the_best_of_the_generations_done(tmp_path, capsys, monkeypatch):
    def bar(total, unit, quiet):
        def show(label, text):
            if label == "generation 2":
                raise KeyboardInterrupt  # Ctrl-C as generation 2 ends
        return show, lambda: None

    monkeypatch.setattr(search_command, "progress", bar)
    out = tmp_path / "s"
    assert fnnet("search", *TINY, "--generations", "50", "--out", out) == 130
    err = capsys.readouterr().err
    assert err == f"fnnet search: interrupted after 2 generation(s); the best so far is in {out / 'best.json'}\n"
    assert json.loads((out / "best.json").read_text())["hidden"] == [8]


def test_the_command_searches_and_writes_its_files(tmp_path, capsys):
    args = cli.build_parser().parse_args(["search", "--population", "4", "--generations", "2", "--epochs", "2",
                                          "--depth", "1", "1", "--width", "2", "8", "--activations", "sigmoid",
                                          "tanh", "relu", "leaky_relu", "--kinds", "dense", "--out", str(tmp_path / "s"),
                                          "--top", "3"])
    assert search_command.search_command(args) == 0
    out = capsys.readouterr().out
    assert "compiled programs per generation: [1, 1]" in out
    assert f"fnnet train --config {tmp_path / 's' / 'best.json'}" in out
    config = json.loads((tmp_path / "s" / "best.json").read_text())
    assert settings.with_defaults(**config)["patience"] == 0
    if importlib.util.find_spec("matplotlib"):
        assert (tmp_path / "s" / "fitness.png").stat().st_size > 0
    args.depth = [2, 1]
    with pytest.raises(ValueError, match=r"^--depth: expected min <= max, got min 2 > max 1$"):  # the option's name
        search_command.search_command(args)


def test_the_command_searches_convolutions_on_images_and_writes_them_as_train_settings(tmp_path, capsys):
    out = tmp_path / "s"
    assert fnnet("search", "--population", "2", "--generations", "1", "--epochs", "1", "--kinds", "conv",
                 "--blocks", "1", "1", "--channels", "4", "4", "--kernels", "3", "--strides", "1", "--poolings", "max",
                 "--head", "0", "0", "--no-plot", "--out", out) == 0
    printed = capsys.readouterr().out
    assert "searching on digits (examples of shape (8, 8, 1): convolutional networks)" in printed
    assert "the winner is convolutional (" in printed and "no fully connected candidate was trained" in printed
    best = json.loads((out / "best.json").read_text())
    assert (best["conv"], best["kernel"], best["pool"], best["hidden"]) == ([4], [3], ["max"], [])
    assert fnnet("train", "--config", out / "best.json", "--out", tmp_path / "r", "--quiet", "--no-plot") == 0
    from fnnet.runs import pipeline

    assert pipeline.restore_run(tmp_path / "r").net.in_shape == (8, 8, 1)


@pytest.mark.parametrize("argv, message", [
    (["--channels", "0", "5"], "--channels: expected min >= 1, got (0, 5)"),
    (["--kernels", "2"], "--kernels: expected a non-empty list of odd ints >= 1, got (2,)"),
    (["--head", "3", "1"], "--head: expected min <= max, got min 3 > max 1"),
    (["--kinds", "conv", "--kernels", "99", "--strides", "1"],
     "--kernels (99,): every one is larger than examples of shape (8, 8, 1) can use (its outer taps would only ever "
     "read the zero padding); expected one of at most 15, or kinds ('dense',) alone"),
    (["--kinds", "conv", "--data", "{tmp}/d.csv"],
     "--kinds conv: convolutions need examples with positions, but {tmp}/d.csv has flat rows of 64 values; pass "
     "--shape, e.g. --shape H W C for images or --shape 64 1 for signals, or --kinds dense"),
    (["--kinds", "conv", "--data", "{tmp}/first.npz"],
     "{tmp}/first.npz: examples of shape (1, 8, 8) look channels-first (1 channel of 8x8); fnnet takes channels "
     "last: store x = np.moveaxis(x, 1, -1), of shape (n, 8, 8, 1) (or pass --shape 1 8 8 if they are (height, "
     "width, channels) already)"),
], ids=["channels", "kernels", "head", "kernels too large", "flat rows", "channels first"])
def test_a_space_that_cannot_be_searched_is_one_line_in_the_options_words(tmp_path, capsys, argv, message):
    import numpy as np

    from fnnet import data

    x, y = data.digits()
    np.savetxt(tmp_path / "d.csv", np.c_[x[:100], y[:100]], delimiter=",", fmt="%d")
    np.savez(tmp_path / "first.npz", x=x[:100].reshape(-1, 1, 8, 8), y=y[:100])
    out = tmp_path / "s"
    assert fnnet("search", "--population", "2", "--no-plot", "--quiet", "--out", out,
                 *[a.format(tmp=tmp_path) for a in argv]) == 2
    assert capsys.readouterr().err == f"fnnet search: error: {message.format(tmp=tmp_path)}\n"
    assert not out.exists()  # refused before the folder is made
