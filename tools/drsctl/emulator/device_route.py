"""Device-facing routes (LwA and DRS): bearer token, request log and faults around a handler.

A :class:`DeviceRoute` resolves the bearer token and its device in one query (once, for
both the log's ``device_id`` and the DRS checks), logs the request in the store's
request log (method, path, status; never headers or bodies, so no token or secret
reaches the log), applies an armed fault and runs a synchronous handler on a
:class:`Call`. Without a fault, token, handler and log entry are one transaction,
committed before the answer is sent. The handler's :class:`.errors.ServiceError` is
answered here rather than by the pipeline because the request log and ``after`` faults
need the answer's status.

These routes are the emulator's hot path: the request pipeline finds them in a
:class:`DeviceRoutes` table by method and path and calls :meth:`DeviceRoute.serve`
directly, without Starlette's router, middleware or ``Request`` objects. Starlette's
router still lists them, to answer a wrong method with the service's 405.
"""

import dataclasses
import functools
import logging
from collections.abc import Callable, Iterable
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from . import faults, ids, inputs
from .errors import MessageError, ServiceError
from .store import Device, Store, Token

log = logging.getLogger(__name__)


_JSON_TYPE = (b"content-type", b"application/json")


class RawResponse(Response):
    """An answer built from its encoded body and raw headers (nothing encoded again)."""

    def __init__(self, status: int, body: bytes, raw_headers: list[tuple[bytes, bytes]]) -> None:
        """Answer ``status`` with ``body`` and exactly ``raw_headers``."""
        self.status_code = status
        self.background = None
        self.body = body
        self.raw_headers = raw_headers


def json_response(status: int, content: Any, head: list[tuple[bytes, bytes]]) -> RawResponse:
    """What ``JSONResponse(content, status, headers)`` answers, ``head`` being those headers.

    Same body and headers in the same order: ``head``, ``content-length``, ``content-type``.
    """
    body = inputs.dump_json(content)
    return RawResponse(status, body, [*head, (b"content-length", b"%d" % len(body)), _JSON_TYPE])


def parse_json(body: bytes) -> Any:
    """Decode a JSON request body (:func:`.inputs.load_json`) or raise a 400 ``{"message"}``."""
    try:
        return inputs.load_json(body)
    except inputs.InputError as exc:
        raise MessageError(400, f"Request body is not valid JSON: {exc}") from None


@dataclasses.dataclass
class Call:
    """One device-facing request as handlers see it (body already read).

    ``headers``: lower-case names, the first value of a repeated header (as Starlette's
    ``Headers.get``); ``token`` and ``device``: the bearer token's record and its device
    (None if none was sent or it is unknown; the device is looked up whatever the token's
    state, :func:`.drs` checks it).
    """

    scope: Scope
    headers: dict[str, str]
    body: bytes
    store: Store
    params: dict[str, str]
    token: Token | None = None
    device: Device | None = None
    device_id: str | None = None


Handler = Callable[[Call], Response]


def request_headers(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name; the first of a repeated header wins."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in reversed(scope["headers"])}


def bearer_digest(authorization: str | None) -> str | None:
    """The stored digest of the token in an ``Authorization: Bearer …`` header, if any."""
    scheme, _, value = (authorization or "").partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        return None
    return _token_digest(value)


@functools.lru_cache(maxsize=4096)
def _token_digest(token: str) -> str:
    """:func:`.ids.digest` of a bearer token, remembered for the tokens last seen.

    A device sends the same access token with every request of its hour; hashing its
    ~390 characters costs more than looking it up. Only this process's memory holds
    the tokens, as it does while it serves each request.
    """
    return ids.digest(token)


class DeviceRoute:
    """One device-facing route: request log, faults, errors around its handler."""

    def __init__(self, name: str, handler: Handler, store: Store, gate: faults.FaultGate) -> None:
        """Wrap ``handler`` as the route called ``name`` (the fault route name)."""
        self.name = name
        self.handler = handler
        self.store = store
        self.gate = gate

    def _run(self, call: Call) -> Response:
        """Run the handler; answer its error in the service's shape, never with a traceback."""
        try:
            return self._handle(call)
        except _HandlerFailed as failed:
            return failed.response

    def _handle(self, call: Call) -> Response:
        """Run the handler; raise its error's answer as :class:`_HandlerFailed`."""
        try:
            return self.handler(call)
        except ServiceError as err:
            response = err.response(ids.request_id_of(call.scope))
        except Exception:
            log.exception("unexpected error in route %s", self.name)
            response = faults.amazon_error(self.name, 500).response(ids.request_id_of(call.scope))
        raise _HandlerFailed(response)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the route as a Starlette endpoint (the pipeline normally calls :meth:`serve`)."""
        chunks = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        await self.serve(scope, receive, send, b"".join(chunks), scope.get("path_params", {}))

    async def serve(
        self, scope: Scope, receive: Receive, send: Send, body: bytes, params: dict[str, str]
    ) -> None:
        """Serve one request: without a fault, in one transaction with its log entry.

        The handler joins that transaction without a savepoint: its error rolls back the
        whole transaction (token lookup and fault check only read), and its answer is then
        logged in a transaction of its own.
        """
        call = Call(scope, request_headers(scope), body, self.store, params)
        digest = bearer_digest(call.headers.get("authorization"))
        method, path = scope["method"], scope["path"]
        try:
            with self.store.tx(savepoints=False) as tx:
                if digest is not None:
                    found = tx.caller(digest)
                    if found is not None:
                        call.token, call.device = found
                        call.device_id = call.token.device_id
                fault = tx.take_fault(self.name)
                if fault is None:
                    response = self._handle(call)
                    tx.log_request(tx.now(), method, path, self.name, response.status_code,
                                   call.device_id)  # fmt: skip
                else:
                    entry = tx.log_request(tx.now(), method, path, self.name)
        except _HandlerFailed as failed:
            response = failed.response
            with self.store.tx() as tx:
                tx.log_request(tx.now(), method, path, self.name, response.status_code,
                               call.device_id)  # fmt: skip
        if fault is None:
            await send({"type": "http.response.start", "status": response.status_code,
                        "headers": response.raw_headers})  # fmt: skip
            await send({"type": "http.response.body", "body": response.body})
            return
        status: int | None = None
        try:
            status = await faults.misbehave(
                fault, self.name, lambda: self._run(call), self.gate, scope, receive, send
            )
        except faults.ConnectionDropped as dropped:
            status = dropped.status
            raise
        finally:
            with self.store.tx() as tx:
                tx.finish_request(entry, status, call.device_id, fault.kind)


class _HandlerFailed(Exception):
    """A handler's error, already answered in the service's shape (rolls its transaction back)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class DeviceRoutes:
    """The device-facing routes by method and path template (``/replenish/{slotId}``).

    A ``{name}`` segment matches one non-empty path segment, as in Starlette; ``HEAD``
    is served like ``GET``, as Starlette does. Templates without a parameter, or with
    one only in the last segment (every route but one), are found with one dictionary
    lookup; no two templates of this table match the same path.
    """

    def __init__(self, routes: Iterable[tuple[str, str, DeviceRoute]]) -> None:
        """Index ``(method, path template, route)`` entries."""
        self._static: dict[tuple[str, str], DeviceRoute] = {}
        self._last: dict[tuple[str, str], tuple[DeviceRoute, str]] = {}
        self._table: dict[tuple[str, int, str], list[tuple[list[str], DeviceRoute]]] = {}
        for method, template, route in routes:
            parts = template.split("/")
            head, _, last = template.rpartition("/")
            for verb in (method, "HEAD") if method == "GET" else (method,):
                if "{" not in template:
                    self._static[verb, template] = route
                elif "{" not in head and last.startswith("{"):
                    self._last[verb, head] = (route, last[1:-1])
                else:
                    key = (verb, len(parts), parts[1])
                    self._table.setdefault(key, []).append((parts, route))

    def match(self, method: str, path: str) -> tuple[DeviceRoute, dict[str, str]] | None:
        """Return the route serving ``method path`` and its path parameters, or None."""
        route = self._static.get((method, path))
        if route is not None:
            return route, {}
        head, _, last = path.rpartition("/")
        found = self._last.get((method, head))
        if found is not None and last:
            return found[0], {found[1]: last}
        parts = path.split("/")
        if len(parts) < 2:
            return None
        for template, route in self._table.get((method, len(parts), parts[1]), ()):
            params: dict[str, str] | None = {}
            for want, got in zip(template, parts, strict=True):
                if want.startswith("{"):
                    if not got:
                        params = None
                        break
                    params[want[1:-1]] = got  # type: ignore[index]
                elif want != got:
                    params = None
                    break
            if params is not None:
                return route, params
        return None
