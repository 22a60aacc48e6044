"""A pure-ASGI guard that refuses request bodies over a size limit, before or while reading them.

The refusal has the shape of the endpoint's other errors (``problems.body_refused``): ``413 body_too_large`` on
the admin API, an OAuth error body on ``/oauth/``, and a ``400 invalid_authzen_request`` on the AuthZEN API.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from remit.api.problems import body_refused


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await self._refuse(scope, receive, send, "the Content-Length header is not a number", False)
                    return
                if declared > self.max_bytes:
                    await self._refuse(scope, receive, send, self._message(), True)
                    return
        seen = 0
        too_large = False
        replaced = False

        async def counting_receive() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    too_large = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # A framework may turn the exception raised while reading into its own 400; answer 413 instead.
            nonlocal replaced
            if too_large:
                if message["type"] == "http.response.start" and not replaced:
                    replaced = True
                    await self._refuse(scope, receive, send, self._message(), True)
                return
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _TooLarge:
            if not replaced:
                replaced = True
                await self._refuse(scope, receive, send, self._message(), True)

    def _message(self) -> str:
        return f"the request body is over the limit of {self.max_bytes} bytes (api.max_body_bytes); send a smaller one"

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, message: str, too_large: bool) -> None:
        await body_refused(str(scope.get("path", "")), message, too_large=too_large)(scope, receive, send)
