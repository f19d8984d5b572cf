# The small set of errors the agent reasons about. Messages never carry secrets.
#
# DrsError: base of every agent-visible failure; `transient` means: retry later
# with backoff. The subclasses (their names show up in events as `kind`):
#   ConfigError   config.json / secrets.json missing or invalid
#   TimeNotSet    the clock is not set (no NTP yet): TLS and ordering wait   (transient)
#   NetworkError  read timeout, reset, truncated/oversized body: the request may have
#                 reached the server and been acted on                     (transient)
#   NotSent       a NetworkError before the request left the device (DNS, connect, TLS
#                 handshake, sending, a failed token refresh): nothing happened (transient)
#   BadResponse   the server answered something we cannot parse/expect    (transient)
#   BadRequest    HTTP 400 from DRS (other than an invalid token)
#   InvalidToken  DRS said the access token is invalid or expired
#   UnknownSlot   HTTP 404: the slot does not exist at Amazon
#   UnknownOrder  getOrderInfo: Amazon does not know this eventInstanceId (400 or 404)
#   Throttled     HTTP 429                                                  (transient)
#   ServerError   HTTP 5xx                                                  (transient)
#   AuthError     LwA refused the refresh token or client: re-provision
#
# The subclasses are made with type(): no class body each, and one shared
# attribute dict per kind (MicroPython keeps the dict as it is; CPython copies it).


class DrsError(Exception):
    transient = False


_T = {"transient": True}
_F = {}
ConfigError = type("ConfigError", (DrsError,), _F)
TimeNotSet = type("TimeNotSet", (DrsError,), _T)
NetworkError = type("NetworkError", (DrsError,), _T)
NotSent = type("NotSent", (NetworkError,), _T)
BadResponse = type("BadResponse", (DrsError,), _T)
BadRequest = type("BadRequest", (DrsError,), _F)
InvalidToken = type("InvalidToken", (DrsError,), _F)
UnknownSlot = type("UnknownSlot", (DrsError,), _F)
UnknownOrder = type("UnknownOrder", (DrsError,), _F)
Throttled = type("Throttled", (DrsError,), _T)
ServerError = type("ServerError", (DrsError,), _T)
AuthError = type("AuthError", (DrsError,), _F)
del _T, _F
