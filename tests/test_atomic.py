"""Atomic writes: the target appears whole with the usual mode, or not at all."""

import os
import stat

import pytest

from embedkit._atomic import atomic_file, atomic_path


def test_replaces_the_target_with_the_usual_mode(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_file(target, "w") as f:
        f.write("new")
    assert target.read_text() == "new"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_an_error_leaves_the_target_untouched_and_no_temp_file(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            with open(tmp, "wb") as f:
                f.write(b"half")
            raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
