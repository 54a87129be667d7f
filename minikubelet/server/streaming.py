"""A long-lived chunked response (watch events, ``logs -f``) that ends cleanly.

Starlette's ``StreamingResponse`` iterates an async generator; a generator that owns a
task group (ours do: a follower waits on a file and on the container at once) must not
be suspended across tasks. So the producer here is a plain coroutine that gets a
``write`` function and runs in the request's own task, beside a task that listens for
the client going away: the client disconnecting cancels the producer, and the producer
returning ends the response with a final empty chunk (EOF, which ends ``kubectl logs -f``
and ``kubectl get -w``). A producer that raises ``Abandon`` (its client stopped reading:
``watch.py``) ends the response without that chunk, which the client could not take
either; the server then closes the connection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

__all__ = ["Abandon", "Producer", "StreamResponse", "Write"]

Write = Callable[[bytes], Awaitable[None]]
Producer = Callable[[Write], Awaitable[None]]


class Abandon(Exception):
    """Raised by a producer whose client no longer reads: end without the final chunk."""


class StreamResponse(Response):
    def __init__(self, producer: Producer, media_type: str, status_code: int = 200) -> None:
        super().__init__(status_code=status_code, media_type=media_type)
        self._producer = producer
        # No content-length: the body is sent in chunks as it is produced.
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        if scope.get("method") == "HEAD":
            # No body is sent for HEAD, so the client takes the response as complete now:
            # end it, or a kept-alive connection waits behind a stream that never ends
            # (found by fuzzing).
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        disconnected = False
        async with anyio.create_task_group() as group:

            async def watch_disconnect() -> None:
                nonlocal disconnected
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        disconnected = True
                        group.cancel_scope.cancel()
                        return

            async def write(data: bytes) -> None:
                if data:
                    await send({"type": "http.response.body", "body": data, "more_body": True})

            group.start_soon(watch_disconnect)
            try:
                await self._producer(write)
            except Abandon:
                disconnected = True  # as good as gone: nothing more is sent to it
            group.cancel_scope.cancel()
        if not disconnected:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
