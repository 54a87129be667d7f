"""The API's JSON, as pure functions: pods and events as Kubernetes objects, Tables,
discovery and OpenAPI documents, PATCH and apply, the Pod update rule.

No I/O here: ``server/`` serves these documents over HTTP and ``cli/`` prints them.
"""

__all__: list[str] = []
