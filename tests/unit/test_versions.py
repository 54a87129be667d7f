"""resourceVersions reserved on disk: a restarted daemon starts above its predecessor's."""

from __future__ import annotations

from pathlib import Path

from minikubelet.server.changes import VersionReservation


def test_a_new_reservation_starts_from_nothing(tmp_path: Path) -> None:
    assert VersionReservation(tmp_path / "rv").floor == 0


def test_every_version_handed_out_is_below_the_next_floor(tmp_path: Path) -> None:
    path = tmp_path / "rv"
    first = VersionReservation(path)
    for version in (5, 6, 7, VersionReservation.BLOCK + 7, VersionReservation.BLOCK + 8):
        first.cover(version)
        # a kill -9 right now: the next daemon must start above ``version``
        assert VersionReservation(path).floor > version


def test_one_write_per_block(tmp_path: Path) -> None:
    path = tmp_path / "rv"
    reservation = VersionReservation(path)
    reservation.cover(1)
    written = path.stat().st_mtime_ns, path.read_text()
    for version in range(2, VersionReservation.BLOCK):
        reservation.cover(version)
    assert (path.stat().st_mtime_ns, path.read_text()) == written
    assert (path.stat().st_mode & 0o777) == 0o600


def test_an_unreadable_reservation_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "rv"
    path.write_text("not a number\n")
    assert VersionReservation(path).floor == 0
