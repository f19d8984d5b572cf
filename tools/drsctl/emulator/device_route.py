"""Device-facing routes (LwA and DRS): bearer token, request log and faults around a handler.

A :class:`DeviceRoute` resolves the bearer token (once, for both the log's ``device_id``
and the DRS checks), logs the request in the store's request log (method, path, status;
never headers or bodies, so no token or secret reaches the log), applies an armed fault
and runs a synchronous handler on a :class:`Call`. Without a fault, token, handler and
log entry are one transaction, committed before the answer is sent. The handler's
:class:`.errors.ServiceError` is answered here rather than by the pipeline because the
request log and ``after`` faults need the answer's status.
"""

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from . import faults, ids, inputs
from .errors import MessageError, ServiceError
from .store import Store, Token, Tx

log = logging.getLogger(__name__)


def parse_json(body: bytes) -> Any:
    """Decode a JSON request body (:func:`.inputs.load_json`) or raise a 400 ``{"message"}``."""
    try:
        return inputs.load_json(body)
    except inputs.InputError as exc:
        raise MessageError(400, f"Request body is not valid JSON: {exc}") from None


@dataclasses.dataclass
class Call:
    """One device-facing request as handlers see it (body already read)."""

    request: Request
    body: bytes
    store: Store
    token: Token | None = None
    device_id: str | None = None

    @property
    def params(self) -> dict[str, str]:
        """Return the path parameters."""
        return self.request.path_params


Handler = Callable[[Call], Response]


def bearer_token(tx: Tx, authorization: str | None) -> Token | None:
    """Return the stored token named by an ``Authorization: Bearer …`` header, if any."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return tx.token(ids.digest(value.strip()))


class DeviceRoute:
    """ASGI endpoint for one device-facing route: request log, faults, errors."""

    def __init__(self, name: str, handler: Handler) -> None:
        """Wrap ``handler`` as the route called ``name`` (the fault route name)."""
        self.name = name
        self.handler = handler

    def _run(self, call: Call) -> Response:
        """Run the handler; answer its error in the service's shape, never with a traceback."""
        rid = ids.request_id_of(call.request.scope)
        try:
            return self.handler(call)
        except ServiceError as err:
            return err.response(rid)
        except Exception:
            log.exception("unexpected error in route %s", self.name)
            return faults.amazon_error(self.name, 500).response(rid)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request: without a fault, in one transaction with its log entry."""
        request = Request(scope, receive)
        store: Store = request.app.state.store
        gate: faults.FaultGate = request.app.state.gate
        call = Call(request, await request.body(), store)
        method, path = request.method, request.url.path
        with store.tx() as tx:
            call.token = bearer_token(tx, request.headers.get("authorization"))
            call.device_id = call.token.device_id if call.token else None
            fault = tx.take_fault(self.name)
            if fault is None:  # the handler's transaction joins this one
                response = self._run(call)
                tx.log_request(tx.now(), method, path, self.name, response.status_code,
                               call.device_id)  # fmt: skip
            else:
                entry = tx.log_request(tx.now(), method, path, self.name)
        if fault is None:
            await response(scope, receive, send)
            return
        status: int | None = None
        try:
            status = await faults.misbehave(
                fault, self.name, lambda: self._run(call), gate, scope, receive, send
            )
        except faults.ConnectionDropped as dropped:
            status = dropped.status
            raise
        finally:
            with store.tx() as tx:
                tx.finish_request(entry, status, call.device_id, fault.kind)
