"""The root dir's modes, its lock and the API token, on real files (any umask)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog.testing

from minikubelet import rootdir
from minikubelet.errors import ConfigError, RootDirInUseError
from minikubelet.rootdir import (
    RootDirLock,
    api_token,
    make_private_dir,
    prepare_root_dir,
    write_private,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """umask 0: whatever comes out owner-only does so on purpose, not by the umask."""
    previous = os.umask(0)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("open_umask")
def test_a_new_root_dir_and_its_new_parents_are_0700(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    root = tmp_path / "state" / "minikubelet"
    with structlog.testing.capture_logs() as logs:
        prepare_root_dir(root)
    assert mode(root) == 0o700
    assert mode(root.parent) == 0o700
    assert mode(tmp_path) == 0o755  # an existing parent is left alone
    assert logs == []


def test_an_existing_root_dir_keeps_its_mode_with_a_warning(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    os.chmod(root, 0o750)
    with structlog.testing.capture_logs() as logs:
        prepare_root_dir(root)
    assert mode(root) == 0o750
    assert [entry["event"] for entry in logs] == ["root_dir.permissive"]
    assert logs[0]["mode"] == "0750"
    os.chmod(root, 0o700)
    with structlog.testing.capture_logs() as logs:
        prepare_root_dir(root)
    assert logs == []
    assert not make_private_dir(root)


def test_a_root_dir_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "root").write_text("")
    with pytest.raises(NotADirectoryError, match="exists and is not a directory"):
        prepare_root_dir(tmp_path / "root")


@pytest.mark.usefixtures("open_umask")
def test_private_files_are_0600_and_replace_atomically(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    write_private(path, b"one")
    assert mode(path) == 0o600
    os.chmod(path, 0o644)
    write_private(path, b"two")
    assert path.read_bytes() == b"two"
    assert mode(path) == 0o600  # a new file, not the old one rewritten
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]  # no temporary left


def test_an_existing_file_is_exchanged_whole(tmp_path: Path) -> None:
    """The old file is swapped out, not rewritten: a reader holding it keeps the old
    content; with no renameat2 (or where the file system refuses it) a rename does it."""
    path = tmp_path / "checkpoint.json"
    write_private(path, b"one")
    with path.open("rb") as reader:
        write_private(path, b"two")
        assert reader.read() == b"one"
    assert path.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.json"]


def test_without_an_exchange_a_rename_replaces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rootdir, "_renameat2", lambda: None)
    path = tmp_path / "checkpoint.json"
    write_private(path, b"one")
    write_private(path, b"two")
    assert path.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.json"]


def test_a_directory_in_the_way_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "checkpoint.json").mkdir()
    with pytest.raises(IsADirectoryError):
        write_private(tmp_path / "checkpoint.json", b"one")
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.json"]  # no temporary left


def test_a_private_file_never_writes_through_a_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    os.chmod(victim, 0o644)
    link = tmp_path / "secret"
    link.symlink_to(victim)
    write_private(link, b"new")
    assert victim.read_text() == "precious"
    assert mode(victim) == 0o644
    assert not link.is_symlink()
    assert link.read_bytes() == b"new"


@pytest.mark.usefixtures("open_umask")
def test_the_lock_is_exclusive_and_names_its_holder(tmp_path: Path) -> None:
    first = RootDirLock(tmp_path)
    with first:
        assert mode(first.path) == 0o600
        assert first.path.read_text() == f"{os.getpid()}\n"
        # flock belongs to an open file: a second open, even in this process, is refused.
        with pytest.raises(RootDirInUseError) as caught:
            RootDirLock(tmp_path).acquire()
        assert caught.value.pid == os.getpid()
        assert str(caught.value) == (
            f"{tmp_path}: the root dir is in use by minikubelet pid {os.getpid()} "
            "(stop it, or choose another --root-dir)"
        )
    with RootDirLock(tmp_path):  # released: free again
        pass


def test_the_lock_does_not_follow_a_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "serve.lock").symlink_to(victim)
    with pytest.raises(OSError, match="Too many levels of symbolic links"):
        RootDirLock(tmp_path / "root").acquire()
    assert victim.read_text() == "precious"


@pytest.mark.usefixtures("open_umask")
def test_a_generated_token_is_new_each_time_and_saved_0600(tmp_path: Path) -> None:
    first = api_token(tmp_path, None)
    assert len(first) >= 43  # 32 random bytes
    assert (tmp_path / "api-token").read_text() == first + "\n"
    assert mode(tmp_path / "api-token") == 0o600
    second = api_token(tmp_path, None)
    assert second != first
    assert (tmp_path / "api-token").read_text() == second + "\n"
    unsaved = api_token(tmp_path / "elsewhere", None, save=False)
    assert unsaved not in (first, second)
    assert not (tmp_path / "elsewhere").exists()


def test_a_token_file_is_read_and_checked(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("  s3cret-token  \n")
    os.chmod(token_file, 0o600)
    with structlog.testing.capture_logs() as logs:
        assert api_token(tmp_path / "root", token_file) == "s3cret-token"
    assert logs == []
    assert not (tmp_path / "root").exists()
    os.chmod(token_file, 0o640)
    with structlog.testing.capture_logs() as logs:
        api_token(tmp_path / "root", token_file)
    assert [entry["event"] for entry in logs] == ["token_file.permissive"]
    for content in ("", "two words", "caf\u00e9"):
        token_file.write_text(content)
        with pytest.raises(ConfigError, match="not a token"):
            api_token(tmp_path, token_file)
    with pytest.raises(ConfigError, match="cannot read the token file"):
        api_token(tmp_path, tmp_path / "missing")
