"""Atomic replacement: a new file gets a plain file's permissions, a replaced one keeps
its own, links are written through, a device is written in place and named when full."""

import os

import pytest

from fnnet.storage import atomic


def test_run_files_get_the_permissions_of_a_plain_file(tmp_path):
    atomic.write_text(tmp_path / "a.json", "{}")
    (tmp_path / "plain").write_text("x")
    assert (tmp_path / "a.json").stat().st_mode == (tmp_path / "plain").stat().st_mode


def test_writing_to_a_device_writes_in_place_and_names_it_when_full():
    with pytest.raises(OSError, match="No space left on device") as info:
        atomic.write_text("/dev/full", "x" * 10000)
    assert info.value.filename == "/dev/full"
    assert not os.path.isfile("/dev/full")  # still the device, not a file renamed over it


def test_replacing_keeps_a_files_own_permissions_and_writes_through_links(tmp_path):
    (tmp_path / "private.csv").write_text("old")
    os.chmod(tmp_path / "private.csv", 0o600)
    atomic.write_text(tmp_path / "private.csv", "new")
    assert oct(os.stat(tmp_path / "private.csv").st_mode & 0o777) == "0o600"
    (tmp_path / "link.csv").symlink_to(tmp_path / "private.csv")
    atomic.write_text(tmp_path / "link.csv", "through")
    assert (tmp_path / "link.csv").is_symlink() and (tmp_path / "private.csv").read_text() == "through"
    long_name = tmp_path / ("p" * 240 + ".csv")
    atomic.write_text(long_name, "fits")  # the temporary file's name stays within NAME_MAX
    assert long_name.read_text() == "fits"
