"""Keep web pages away from the control API (``/_emulator/...``).

It registers devices and hands out client secrets and refresh tokens, so a page the
developer happens to visit must not drive it:

* a cross-site "simple" request (a form or ``fetch`` with a ``text/plain`` body needs
  no CORS preflight) is refused: a control request with a body must be
  ``application/json`` (415), and one carrying a foreign or malformed ``Origin``
  (or ``null``, a sandboxed page) is refused (403);
* DNS rebinding (a hostile name that resolves to 127.0.0.1) is refused by the ``Host``
  header: only loopback names, or the names the emulator was started for (403).

The request pipeline asks :func:`refusal` for every ``/_emulator/`` request; the
device-facing routes (LwA, DRS, SP-API, MWS) are not affected.
"""

import ipaddress
from urllib.parse import urlsplit

from starlette.types import Scope

PREFIX = "/_emulator/"
LOOPBACK_NAMES = frozenset({"localhost", "::1"})


def host_name(authority: str) -> str:
    """``name`` of a ``name[:port]`` or ``[v6][:port]`` authority, lower-case."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority[1 : authority.find("]")] if "]" in authority else authority
    return authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority


def is_loopback(name: str) -> bool:
    """True for the loopback names and addresses (localhost, 127.0.0.0/8, ::1).

    Not for a name that only starts like one (127.0.0.1.evil.example).
    """
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def origin_host(origin: str) -> str | None:
    """The host name of an ``Origin`` header, or None when it does not parse (``http://[``)."""
    try:
        return host_name(urlsplit(origin).netloc)
    except ValueError:
        return None


def refusal(scope: Scope, allowed_hosts: frozenset[str] = frozenset()) -> tuple[int, str] | None:
    """(status, message) refusing this control request, or None to let it through.

    ``allowed_hosts``: names the control API answers to besides the loopback ones.
    """
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}

    def allowed(name: str) -> bool:
        return is_loopback(name) or name in allowed_hosts

    if not allowed(host_name(headers.get("host", ""))):
        return 403, "Host not allowed for the control API"
    origin = headers.get("origin")
    if origin is not None:
        name = origin_host(origin)
        if name is None or not allowed(name):
            return 403, "Cross-site control requests are refused"
    has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    if has_body and media != "application/json":
        return 415, "Control requests take application/json"
    return None
