"""Routes for discovery (``/api``, ``/apis``, ``/api/v1``, metrics.k8s.io) and OpenAPI v3.

The documents are data (``minikubelet.api.discovery``, ``minikubelet.api.openapi``); this
module only negotiates and answers:

- ``/api`` and ``/apis`` answer aggregated discovery (``apidiscovery.k8s.io/v2`` or
  ``v2beta1``) when the ``Accept`` header lists a version we serve, with the exact
  ``Content-Type`` client-go needs, an ``ETag`` (``If-None-Match`` gets a 304) and ``Vary:
  Accept``; otherwise the legacy documents.
- ``/openapi/v3/api/v1?hash=H``: a stale ``H`` is redirected (301) to the current one, as
  kube-openapi does; with the right hash the document may be cached for good.
- ``/openapi/v2``: an empty document (JSON, or the protobuf kubectl asks for), so that
  kubectl's client-side validation of a ``kind: List`` has one (``api.openapi``).
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from minikubelet.api import discovery, openapi
from minikubelet.errors import RequestError
from minikubelet.server.changes import encode

__all__ = ["ROUTES"]


def _json(data: Any, media_type: str = "application/json") -> Response:
    return Response(encode(data), media_type=media_type)


def _server_address(request: Request) -> str:
    server = request.scope.get("server")
    if isinstance(server, tuple | list) and len(server) == 2 and server[1] is not None:
        host, port = server
        return f"{host}:{port}"
    # A unix socket has no address; the Host header is what the client used.
    return request.headers.get("host", "localhost")


def _aggregated(request: Request, groups: tuple[discovery.GroupVersion, ...]) -> Response | None:
    version = discovery.negotiate_aggregated(request.headers.get("accept"))
    if version is None:
        return None
    body = encode(discovery.aggregated(groups, version))
    etag = '"' + hashlib.sha512(body).hexdigest().upper() + '"'
    headers = {"ETag": etag, "Vary": "Accept"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    media_type = discovery.aggregated_content_type(version)
    return Response(body, media_type=media_type, headers=headers)


async def api_root(request: Request) -> Response:
    """``GET /api``: the core group (aggregated), or ``APIVersions``."""
    aggregated = _aggregated(request, (discovery.CORE_V1,))
    if aggregated is not None:
        return aggregated
    return _json(discovery.api_versions(_server_address(request)), "application/json")


async def apis_root(request: Request) -> Response:
    """``GET /apis``: the named groups (aggregated), or ``APIGroupList``."""
    aggregated = _aggregated(request, discovery.GROUPS)
    if aggregated is not None:
        return aggregated
    return _json(discovery.api_group_list())


async def core_resources(request: Request) -> Response:
    """``GET /api/v1``: the core group's ``APIResourceList``."""
    return _json(discovery.api_resource_list(discovery.CORE_V1))


async def group(request: Request) -> Response:
    """``GET /apis/{group}``: one ``APIGroup``."""
    found = discovery.api_group(request.path_params["group"])
    if found is None:
        raise _no_such_resource()
    return _json(found)


async def group_resources(request: Request) -> Response:
    """``GET /apis/{group}/{version}``: that group version's ``APIResourceList``."""
    found = discovery.find_group_version(
        request.path_params["group"], request.path_params["version"]
    )
    if found is None or not found.group:
        raise _no_such_resource()
    return _json(discovery.api_resource_list(found))


def _no_such_resource() -> RequestError:
    # The wording of the apiserver's 404 for a path it has no handler for.
    return RequestError(404, "the server could not find the requested resource")


async def openapi_index(request: Request) -> Response:
    """``GET /openapi/v3``: where each group version's document is."""
    return _json(openapi.index())


async def openapi_document(request: Request) -> Response:
    """``GET /openapi/v3/{path}``: one group version's document, named by its hash."""
    path = request.path_params["path"].strip("/")
    found = openapi.document(path)
    if found is None:
        raise _no_such_resource()
    headers = {"ETag": f'"{found.etag}"'}
    wanted = request.query_params.get("hash")
    if wanted:
        if wanted != found.etag:
            return RedirectResponse(openapi.relative_url(path, found.etag), status_code=301)
        headers |= {"Vary": "Accept", "Cache-Control": "public, immutable"}
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    return Response(found.data, media_type="application/json", headers=headers)


async def openapi_v2(request: Request) -> Response:
    """``GET /openapi/v2``: an empty Swagger document, in protobuf when asked for it."""
    version = "v1.33.0-minikubelet"
    accept = request.headers.get("accept", "")
    if openapi.V2_PROTOBUF in accept:
        return Response(openapi.v2_protobuf(version), media_type=openapi.V2_PROTOBUF_CONTENT_TYPE)
    return _json(openapi.v2_document(version))


ROUTES = [
    Route("/api", api_root, methods=["GET"]),
    Route("/api/", api_root, methods=["GET"]),
    Route("/apis", apis_root, methods=["GET"]),
    Route("/apis/", apis_root, methods=["GET"]),
    Route("/api/v1", core_resources, methods=["GET"]),
    Route("/api/v1/", core_resources, methods=["GET"]),
    Route("/apis/{group}", group, methods=["GET"]),
    Route("/apis/{group}/{version}", group_resources, methods=["GET"]),
    Route("/openapi/v2", openapi_v2, methods=["GET"]),
    Route("/openapi/v3", openapi_index, methods=["GET"]),
    Route("/openapi/v3/{path:path}", openapi_document, methods=["GET"]),
]
