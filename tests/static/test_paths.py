"""resolve_plain: the symlink-free fast path of the static lookup, against confine()."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from heron._util.paths import confine, resolve_plain


@pytest.fixture
def root(tmp_path: Path) -> str:
    (tmp_path / "root" / "sub").mkdir(parents=True)
    (tmp_path / "root" / "sub" / "file.txt").write_text("inside")
    (tmp_path / "outside.txt").write_text("outside")
    return os.path.realpath(tmp_path / "root")


def test_a_plain_path_is_its_own_real_path(root: str) -> None:
    found = resolve_plain(root, ("sub", "file.txt"))
    assert found is not None
    path, st = found
    assert path == os.path.join(root, "sub", "file.txt")
    assert path == confine(path, root, follow_symlinks=False)
    assert st.st_ino == os.stat(path).st_ino


@pytest.mark.parametrize("where", ["last", "middle"])
def test_any_link_below_the_root_defers_to_confine(root: str, where: str) -> None:
    outside = os.path.join(os.path.dirname(root), "outside.txt")
    if where == "last":
        os.symlink(outside, os.path.join(root, "link.txt"))
        parts: tuple[str, ...] = ("link.txt",)
    else:
        os.symlink(os.path.dirname(root), os.path.join(root, "up"))
        parts = ("up", "outside.txt")
    assert resolve_plain(root, parts) is None
    assert confine(os.path.join(root, *parts), root, follow_symlinks=False) is None


def test_missing_components_raise_like_lstat(root: str) -> None:
    with pytest.raises(FileNotFoundError):
        resolve_plain(root, ("nope", "file.txt"))
    with pytest.raises(NotADirectoryError):
        resolve_plain(root, ("sub", "file.txt", "deeper"))


def test_the_root_itself_is_not_a_plain_hit(root: str) -> None:
    assert resolve_plain(root, ()) is None
