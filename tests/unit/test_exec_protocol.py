"""The remote-command protocol's pure parts: subprotocol choice and the exit Status."""

from __future__ import annotations

from minikubelet.model.launch import ExitStatus
from minikubelet.server.exec import exec_status, negotiate


def test_the_first_subprotocol_we_speak_wins() -> None:
    assert negotiate(["v5.channel.k8s.io", "v4.channel.k8s.io"]) == "v5.channel.k8s.io"
    assert negotiate(["v4.channel.k8s.io", "v5.channel.k8s.io"]) == "v4.channel.k8s.io"
    assert negotiate(["v3.channel.k8s.io", "v4.channel.k8s.io"]) == "v4.channel.k8s.io"
    assert negotiate(["channel.k8s.io"]) is None
    assert negotiate([]) is None


def test_the_exit_status_as_kubectl_reads_it() -> None:
    assert exec_status(ExitStatus(0), ("true",)) == {"metadata": {}, "status": "Success"}
    failed = exec_status(ExitStatus(3), ("sh", "-c", "exit 3"))
    assert failed == {
        "metadata": {},
        "status": "Failure",
        "message": "command terminated with non-zero exit code: error executing command "
        "[sh -c exit 3], exit code 3",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": "3"}]},
    }
    killed = exec_status(ExitStatus.from_signal(9), ("sleep", "9"))
    assert killed["details"]["causes"][0]["message"] == "137"
