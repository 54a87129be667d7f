"""Adoption's pure parts: the keeper's wire frames, process identity, the checkpoint's
identity fields, and which instances a restarted daemon may take back."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from minikubelet.logic.adoption import (
    AdoptionRefused,
    ProcessIdentity,
    refusal,
    start_ticks_of,
    unclaimed,
)
from minikubelet.logic.restore import LOST_MESSAGE, lost, restored_records, running_instances
from minikubelet.model.checkpoint import PodCheckpoint, checkpoint_from_json, checkpoint_json
from minikubelet.model.keeper import (
    FRAME_LIMIT,
    KeptProcess,
    SpawnRequest,
    SpawnUser,
    WireError,
    decode_frame,
    encode_frame,
    kept_from_json,
    kept_json,
    spawn_from_json,
    spawn_json,
)
from minikubelet.model.spec import Container, PodSpec
from minikubelet.model.status import CONTAINER_STATUS_UNKNOWN, Exit, Instance

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

# -- frames ---------------------------------------------------------------------------


def test_a_frame_is_a_length_and_a_json_object() -> None:
    message = {"op": "exit", "pid": 12, "waitStatus": 7 << 8}
    frame = encode_frame(message)
    assert int.from_bytes(frame[:4], "big") == len(frame) - 4
    assert decode_frame(frame) == message


def test_a_frame_carries_its_fd_count() -> None:
    frame = encode_frame({"op": "spawned", "fds": 2, "request": 1})
    assert decode_frame(frame, fds=2)["request"] == 1
    with pytest.raises(WireError, match="says 2 fds, 0 came"):
        decode_frame(frame, fds=0)


@pytest.mark.parametrize(
    ("packet", "message"),
    [
        (b"\x00\x00", "no frame header"),
        (b"\x00\x00\x00\x09{}", "says 9 bytes, the packet holds 2"),
        (b"\x00\x00\x00\x03abc", "not JSON"),
        (b"\x00\x00\x00\x02[]", "not a message"),
        (b'\x00\x00\x00\x0a{"op": 12}', "not a message"),
    ],
)
def test_a_broken_packet_is_an_error_not_half_a_message(packet: bytes, message: str) -> None:
    with pytest.raises(WireError, match=message):
        decode_frame(packet)


def test_a_message_over_the_limit_is_refused() -> None:
    with pytest.raises(WireError, match="too long"):
        encode_frame({"op": "spawn", "env": {"X": "x" * FRAME_LIMIT}})


def test_a_spawn_request_goes_through_the_wire_unchanged() -> None:
    request = SpawnRequest(
        request=4,
        argv=("/bin/app", "--flag"),
        cwd="/srv",
        env={"PATH": "/usr/bin", "É": "ü"},
        tag="uid/app",
        program="app",
        user=SpawnUser(1000, 1000, (10, 20)),
        stdin=True,
        message_variable="MINIKUBELET_TERMINATION_LOG",
        cgroup=("/sys/fs/cgroup/memory/m/poduid/app/tasks",),
    )
    message = decode_frame(encode_frame(spawn_json(request)), fds=2)
    assert spawn_from_json(message) == request


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("env", {"A": 1}, "env is not an object of strings"),
        ("argv", "sh -c x", "argv is not a list of strings"),
        ("user", [0, 0], "user is not"),
        ("request", True, "request is missing"),
        ("cwd", None, "cwd is missing"),
        ("cgroup", "/sys/fs/cgroup/memory/x/tasks", "cgroup is not a list of strings"),
        ("cgroup", ["/etc/passwd"], "not the absolute path of a tasks file"),
        ("cgroup", ["memory/x/tasks"], "not the absolute path of a tasks file"),
    ],
)
def test_a_bad_spawn_request_names_its_field(field: str, value: Any, error: str) -> None:
    message = spawn_json(SpawnRequest(1, ("x",), "/", {}, "t"))
    message[field] = value
    with pytest.raises(WireError, match=error):
        spawn_from_json(message)


def test_a_kept_process_goes_through_the_wire_unchanged() -> None:
    for kept in (KeptProcess(5, "uid/app", 900), KeptProcess(5, "uid/app", 900, 3 << 8)):
        assert kept_from_json(json.loads(json.dumps(kept_json(kept)))) == kept


# -- identity -------------------------------------------------------------------------

STAT = "4242 (python3 (x) y) S 1 4242 4242 0 -1 4194560 900 0 0 0 3 1 0 0 20 0 1 0 123456 1 2"


def test_the_start_time_is_field_22_whatever_the_command_name() -> None:
    assert start_ticks_of(STAT) == 123456


@pytest.mark.parametrize("line", ["", "4242 (x) S 1 2 3", "garbage without parens"])
def test_a_malformed_stat_line_is_an_error(line: str) -> None:
    with pytest.raises(ValueError, match="stat"):
        start_ticks_of(line)


CLAIM = ProcessIdentity(4242, 123456)
KEPT = KeptProcess(4242, "uid/app", 123456)


@pytest.mark.parametrize(
    ("claim", "tag", "kept", "in_cgroup", "reason"),
    [
        (CLAIM, "uid/app", KEPT, None, None),
        (CLAIM, "uid/app", KEPT, True, None),
        (CLAIM, "uid/app", replace(KEPT, wait_status=7 << 8), None, None),  # exited meanwhile
        (None, "uid/app", KEPT, None, "no process identity"),
        (CLAIM, "uid/app", None, None, "no process of the keeper has pid 4242"),
        (CLAIM, "uid/app", replace(KEPT, start_ticks=999), None, "another process"),
        (CLAIM, "uid/web", KEPT, None, "belongs to 'uid/app', not 'uid/web'"),
        (CLAIM, "uid/app", KEPT, False, "not in the container's cgroup"),
    ],
)
def test_only_a_process_matching_in_every_way_is_adopted(
    claim: ProcessIdentity | None,
    tag: str,
    kept: KeptProcess | None,
    in_cgroup: bool | None,
    reason: str | None,
) -> None:
    refused = refusal(claim, tag, kept, in_cgroup)
    if reason is None:
        assert refused is None
    else:
        assert isinstance(refused, AdoptionRefused)
        assert reason in refused.reason


def test_what_nobody_adopted_is_unclaimed() -> None:
    others = [KEPT, KeptProcess(7, "gone/app", 1), KeptProcess(8, "uid/side", 2)]
    assert unclaimed(others, {4242, 8}) == [others[1]]


# -- checkpoints and restore ----------------------------------------------------------


def running(name: str, ticks: int | None = 777) -> Instance:
    return Instance(name, 2, "process://50", T0, 50, T0 + timedelta(seconds=1), start_ticks=ticks)


def test_the_checkpoint_keeps_a_running_instance_s_identity() -> None:
    written = PodCheckpoint("uid-1", "default", "web", T0, {"app": (running("app"),)})
    data = checkpoint_json(written)
    assert data["version"] == 2
    assert data["containers"]["app"][0]["startTicks"] == 777
    assert checkpoint_from_json(data) == written


def test_a_version_1_checkpoint_reads_without_identities() -> None:
    data = checkpoint_json(PodCheckpoint("uid-1", "default", "web", T0, {"app": (running("app"),)}))
    data["version"] = 1
    del data["containers"]["app"][0]["startTicks"]
    (read,) = checkpoint_from_json(data).instances["app"]
    assert read.start_ticks is None
    assert read.pid == 50


def test_running_instances_are_left_running_for_the_worker_to_adopt() -> None:
    done = replace(running("done"), exit=Exit(0, T0 + timedelta(minutes=1)))
    spec = PodSpec(containers=tuple(Container(name=n, command=("x",)) for n in ("app", "done")))
    checkpoint = PodCheckpoint(
        "u", "default", "web", T0, {"app": (running("app"),), "done": (done,)}
    )
    adoptable = running_instances(spec, checkpoint)
    assert adoptable == {"app": running("app")}
    records = restored_records(spec, checkpoint, T0 + timedelta(hours=1), adoptable)
    latest = records["app"].latest
    assert latest is not None
    assert latest.is_running
    assert records["done"].latest == done


def test_an_instance_not_taken_back_is_lost_with_the_reason() -> None:
    at = T0 + timedelta(hours=1)
    gone = lost(running("app"), at, "no process of the keeper has pid 50 any more")
    assert gone.exit is not None
    assert gone.exit.reason == CONTAINER_STATUS_UNKNOWN
    assert gone.exit.exit_code == 137
    assert gone.exit.message == f"{LOST_MESSAGE}: no process of the keeper has pid 50 any more"
    assert gone.restart_count == 2
