"""minikubelet's own actions on pods, beside the Kubernetes API: restart one container.

``POST /api/v1/namespaces/{namespace}/pods/{name}/restart?container=C`` stops the running
instance of container C gracefully, as a failed liveness probe would (Killing event with
the message ``Container C restart requested``, preStop, the stop signal, the grace period,
SIGKILL), and the pod's restart policy then applies to that exit as to any other: under
``Always`` it starts again (subject to the crash-loop back-off), under ``OnFailure`` only
if the exit code is not 0, under ``Never`` it stays terminated. Kubernetes has no such
call (``kubectl rollout restart`` replaces pods); the dashboard's "restart" key uses it.

Answers ``202`` with a ``ContainerRestart`` (``apiVersion: minikubelet.io/v1``) once the
stop has begun; ``404`` for an unknown pod; ``400`` when the container is not given (and
the pod has more than one) or unknown; ``409`` when it is not running (waiting, finished,
already stopping) or the pod is terminating.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from minikubelet.errors import RequestError
from minikubelet.server.context import api_of, json_response
from minikubelet.server.status import bad_request, not_found

__all__ = ["restart_container"]


async def restart_container(request: Request) -> Response:
    """``POST …/pods/{name}/restart?container=C``."""
    api = api_of(request)
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    pod = api.kubelet.snapshot(namespace, name)
    if pod is None:
        raise not_found(name)
    spec = pod.pod.spec
    everything = [c.name for c in spec.init_containers + spec.containers]
    requested = request.query_params.get("container") or None
    if requested is None:
        if len(everything) != 1:
            raise bad_request(
                f"a container name must be specified for pod {name}, choose one of: "
                f"[{' '.join(everything)}]"
            )
        requested = everything[0]
    if requested not in everything:
        raise bad_request(f"container {requested} is not valid for pod {name}")
    restart_count = pod.records[requested].next_restart_count - 1
    if not api.kubelet.restart_container(namespace, name, requested):
        raise RequestError(
            409,
            f"container {requested} of pod {name} is not running: nothing to restart",
            reason="Conflict",
            details={"name": name, "kind": "pods"},
        )
    body = {
        "kind": "ContainerRestart",
        "apiVersion": "minikubelet.io/v1",
        "metadata": {"name": name, "namespace": namespace, "uid": pod.uid},
        "container": requested,
        "restartCount": max(restart_count, 0),
    }
    return json_response(body, 202)
