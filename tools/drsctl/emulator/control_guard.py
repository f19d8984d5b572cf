"""Keep web pages away from the control API (``/_emulator/...``).

It registers devices and hands out client secrets and refresh tokens, so a page the
developer happens to visit must not drive it:

* a cross-site "simple" request (a form or ``fetch`` with a ``text/plain`` body needs
  no CORS preflight) is refused: a control request with a body must be
  ``application/json`` (415), and one carrying a foreign ``Origin`` is refused (403);
* DNS rebinding (a hostile name that resolves to 127.0.0.1) is refused by the ``Host``
  header: only loopback names, or the names the emulator was started for (403).

The device-facing routes (LwA, DRS, SP-API, MWS) are not affected.
"""

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

PREFIX = "/_emulator/"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


def host_name(authority: str) -> str:
    """``name`` of a ``name[:port]`` or ``[v6][:port]`` authority, lower-case."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority[1 : authority.find("]")] if "]" in authority else authority
    return authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority


def is_loopback(name: str) -> bool:
    """True for the loopback names and addresses (127.0.0.0/8, ::1, localhost)."""
    return name in LOOPBACK_NAMES or name.startswith("127.")


class ControlGuard:
    """ASGI middleware guarding the control routes (see the module docstring)."""

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str] = ()) -> None:
        """Wrap ``app``; ``allowed_hosts`` are further names the control API answers to."""
        self.app = app
        self.allowed = frozenset(h.lower() for h in allowed_hosts)

    def _allowed(self, name: str) -> bool:
        return is_loopback(name) or name in self.allowed

    def refusal(self, scope: Scope) -> JSONResponse | None:
        """The answer that refuses this control request, or None to let it through."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if not self._allowed(host_name(headers.get("host", ""))):
            return JSONResponse({"message": "Host not allowed for the control API"}, 403)
        origin = headers.get("origin")
        if origin is not None and not self._allowed(host_name(urlsplit(origin).netloc)):
            return JSONResponse({"message": "Cross-site control requests are refused"}, 403)
        has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        if has_body and media != "application/json":
            return JSONResponse({"message": "Control requests take application/json"}, 415)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a bad control request; pass everything else on."""
        if scope["type"] == "http" and scope["path"].startswith(PREFIX):
            refusal = self.refusal(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)
