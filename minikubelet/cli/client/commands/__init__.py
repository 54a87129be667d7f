"""The client commands, one module each, as kubectl has them: ``get``, ``describe``, ``logs``,
``delete``, ``apply``, ``top``; ``common`` holds what they share.

Nothing is imported here: ``minikubelet.cli.main`` imports the one module a command needs.
"""

__all__: list[str] = []
