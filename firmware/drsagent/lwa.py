# Login with Amazon: turns the long-lived refresh token into short-lived access
# tokens, lazily. The access token lives in RAM only; the refresh token is
# written back to flash only when LwA hands out a different one.
from drsagent import errors, http, log
from drsagent.compat import collect, const

_SKEW_MARGIN_S = const(300)  # refresh this early: clock skew and the call's own time
_FORM_TYPE = const("application/x-www-form-urlencoded;charset=UTF-8")


class TokenManager:
    def __init__(self, url, secrets, save_secrets, clock, timeout=10, cadata=None):
        # secrets: the whole secrets.json dict (secrets["lwa"] is updated in place
        # and the whole dict handed to save_secrets).
        self.url = url
        self.secrets = secrets
        self.save_secrets = save_secrets
        self.clock = clock
        self.timeout = timeout
        self.cadata = cadata
        self.lwa = secrets["lwa"]
        self.access_token = None
        self.expires_at = 0
        self.refresh_token_unsaved = False  # a new refresh token is not on flash yet
        log.secret("c", self.lwa.get("client_secret"))
        log.secret("r", self.lwa.get("refresh_token"))

    def invalidate(self):
        """Forget the access token (DRS said it is invalid); the next token() refreshes."""
        self.access_token = None
        log.secret("a", None)

    def token(self):
        """A valid access token, refreshing it first if missing or near expiry."""
        if self.access_token is None or self.clock.now() >= self.expires_at - _SKEW_MARGIN_S:
            self.invalidate()  # the log's copy too: not two tokens in RAM while parsing
            self._refresh()
        if self.refresh_token_unsaved:
            # Keep the new refresh token in RAM even if flash fails (the old one may
            # be revoked already) and try again on the next token() call.
            try:
                self.save_secrets(self.secrets)
                self.refresh_token_unsaved = False
                log.info("lwa: new refresh token saved")
            except Exception as e:  # noqa: BLE001 - flash errors vary by port
                log.error("lwa: save: %s" % type(e).__name__)
        return self.access_token

    def _refresh(self):
        credentials = self.lwa
        # The form body, percent-encoded straight into one buffer.
        form = bytearray(b"grant_type=refresh_token")
        for key in ("refresh_token", "client_id", "client_secret"):
            form += b"&%s=" % key.encode()
            http.quote(credentials[key], form)
        status, _, body = http.request(
            "POST",
            self.url,
            {"Content-Type": _FORM_TYPE},
            form,
            timeout=self.timeout,
            cadata=self.cadata,
        )
        form = _ = None  # the form and the answer's headers: not kept while parsing
        if status != 200:
            raise self._error(status, body)
        collect()  # their room is free again before the tokens are parsed
        answer = http.parse_json(body)
        body = None
        token = answer.get("access_token") if isinstance(answer, dict) else None
        lifetime = answer.get("expires_in", 3600) if token else 0
        if isinstance(lifetime, str) and lifetime.isdigit():
            lifetime = int(lifetime)
        if not isinstance(token, str) or type(lifetime) is not int or lifetime <= 0:
            raise errors.BadResponse("lwa HTTP %d no token" % status)
        self.access_token = token
        self.expires_at = self.clock.now() + lifetime
        log.secret("a", token)
        refresh_token = answer.get("refresh_token")
        if (
            isinstance(refresh_token, str)
            and refresh_token
            and refresh_token != credentials["refresh_token"]
        ):
            credentials["refresh_token"] = refresh_token
            log.secret("r", refresh_token)
            self.refresh_token_unsaved = True
        log.info("lwa: token %d s" % lifetime)

    def _error(self, status, body):
        """The exception for a refused refresh (the error code only, never a token)."""
        code = ""
        if status == 429:
            kind = errors.Throttled
        elif status > 499:
            kind = errors.ServerError
        else:
            # {"error": "invalid_grant", "error_description": "..."}: only the code.
            try:
                code = http.parse_json(body)["error"][:40]
            except (errors.BadResponse, KeyError, TypeError):
                pass
            if not (isinstance(code, str) and code):
                kind = errors.BadResponse
            elif status in (400, 401) and code in (
                "invalid_grant",
                "invalid_client",
                "unauthorized_client",
            ):
                kind = errors.AuthError  # dead credentials: re-provision, do not retry
            else:
                kind = errors.BadRequest
        message = "lwa HTTP %d %s" % (status, code)
        if kind is errors.AuthError:
            log.error(message)
        return kind(message)
