"""The one error family of the emulator: :class:`ServiceError` and each service's body shape.

A handler raises a :class:`ServiceError` subclass; the request pipeline
(:mod:`.pipeline`) turns it into the answer with the request's id. A subclass only
contributes how its service writes an error body:

* :class:`MessageError`: ``{"message": ...}`` with ``x-amzn-ErrorType`` (DRS, the control API);
* :class:`LwaError`: ``{"error", "error_description"}`` (Login with Amazon);
* :class:`SpApiError`: ``{"errors": [{"code", "message", "details"}]}`` (Selling Partner API);
* :class:`MwsError` (in :mod:`.mws`): an XML ``ErrorResponse``.
"""

from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse, Response


def reason_phrase(status: int) -> str:
    """Return the reason phrase of a status code (or a generic one)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class ServiceError(Exception):
    """An error answer: status, a code and a message safe to show, extra headers."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, code, message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = dict(headers or {})

    def body(self) -> Any:
        """Return the service's error body (a JSON value)."""
        raise NotImplementedError

    def response(self, request_id: str) -> Response:
        """Return the answer, carrying ``x-amzn-RequestId``."""
        headers = {"x-amzn-RequestId": request_id, **self.headers}
        return JSONResponse(self.body(), self.status, headers)


class MessageError(ServiceError):
    """``{"message": ...}``; a non-empty code is sent as ``x-amzn-ErrorType`` (DRS)."""

    def __init__(self, status: int, message: str, error_type: str = "") -> None:
        headers = {"x-amzn-ErrorType": error_type} if error_type else None
        super().__init__(status, error_type, message, headers=headers)

    def body(self) -> Any:
        """Return ``{"message": ...}``."""
        return {"message": self.message}


class LwaError(ServiceError):
    """Login with Amazon's ``{"error", "error_description"}``."""

    def body(self) -> Any:
        """Return LwA's error body."""
        return {"error": self.code, "error_description": self.message}


class SpApiError(ServiceError):
    """The Selling Partner API's ``{"errors": [...]}`` (one or several problems)."""

    def __init__(self, status: int, code: str, message: str, details: str = "") -> None:
        super().__init__(status, code, message, details)
        self.errors: list[dict[str, str]] = [{"code": code, "message": message, "details": details}]

    @classmethod
    def many(cls, status: int, errors: list[tuple[str, str]]) -> "SpApiError":
        """Return one error answer listing several problems."""
        err = cls(status, errors[0][0], errors[0][1])
        err.errors = [{"code": c, "message": m, "details": ""} for c, m in errors]
        return err

    def body(self) -> Any:
        """Return ``{"errors": [...]}``."""
        return {"errors": self.errors}
