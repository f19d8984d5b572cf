# The small set of errors the agent reasons about. Messages never carry secrets.


class DrsError(Exception):
    """Base of every agent-visible failure. `transient` means: retry later with backoff."""

    transient = False


class ConfigError(DrsError):
    """config.json / secrets.json missing or invalid: message names file, key, expectation."""


class TimeNotSet(DrsError):
    """The clock is not set (no NTP yet): TLS and ordering must wait."""

    transient = True


class NetworkError(DrsError):
    """Connect/read timeout, reset, DNS failure, truncated or oversized response."""

    transient = True


class BadResponse(DrsError):
    """The server answered something we cannot parse or did not expect."""

    transient = True


class BadRequest(DrsError):
    """HTTP 400 from DRS (other than an invalid token)."""


class InvalidToken(DrsError):
    """DRS said the access token is invalid or expired."""


class UnknownSlot(DrsError):
    """HTTP 404: the slot (or order) does not exist at Amazon."""


class Throttled(DrsError):
    """HTTP 429."""

    transient = True


class ServerError(DrsError):
    """HTTP 5xx."""

    transient = True


class AuthError(DrsError):
    """LwA refused the refresh token or client (invalid_grant, invalid_client):
    the device must be re-provisioned; retrying soon will not help."""
