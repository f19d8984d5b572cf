# Login with Amazon: turns the long-lived refresh token into short-lived access
# tokens, lazily. The access token lives in RAM only; the refresh token is
# written back to flash only when LwA hands out a different one.
from drsagent import errors, http, log

# LwA errors that mean "these credentials are dead": re-provision, do not retry.
_PERMANENT = ("invalid_grant", "invalid_client", "unauthorized_client")


class TokenManager:
    def __init__(
        self,
        url,
        secrets,
        save_secrets,
        clock,
        timeout=10,
        cadata=None,
        skew=300,
        request=http.request,
    ):
        # secrets: the whole secrets.json dict (we update secrets["lwa"] in place
        # and hand the whole dict to save_secrets), or just its "lwa" part.
        self._url = url
        self._secrets = secrets
        self._lwa = secrets["lwa"] if "lwa" in secrets else secrets
        self._save = save_secrets
        self._clock = clock
        self._timeout = timeout
        self._cadata = cadata
        self._skew = skew
        self._request = request
        self._access = None
        self._expires = 0
        self._unsaved = False
        log.secret("lwa.client_secret", self._lwa.get("client_secret"))
        log.secret("lwa.refresh_token", self._lwa.get("refresh_token"))

    def valid(self):
        """True if a cached access token is usable for at least `skew` more seconds."""
        return self._access is not None and self._clock.now() < self._expires - self._skew

    def token(self):
        """A valid access token, refreshing it first if missing or near expiry."""
        if self._unsaved:
            self._persist()
        if not self.valid():
            self._refresh()
        return self._access

    def invalidate(self):
        """Forget the access token (DRS said it is invalid); the next token() refreshes."""
        self._access = None
        self._expires = 0
        log.secret("lwa.access_token", None)

    def _refresh(self):
        self._access = None
        lwa = self._lwa
        body = (
            "grant_type=refresh_token&refresh_token="
            + http.quote(lwa["refresh_token"])
            + "&client_id="
            + http.quote(lwa["client_id"])
            + "&client_secret="
            + http.quote(lwa["client_secret"])
        )
        lwa = None
        resp = self._request(
            "POST",
            self._url,
            headers={
                "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
                "Accept": "application/json",
            },
            body=body,
            timeout=self._timeout,
            cadata=self._cadata,
        )
        body = None
        status = resp.status
        if status == 200:
            d = resp.json()
            resp = None
            self._accept(d)
            return
        if status == 429:
            raise errors.Throttled("LwA throttled the token refresh (HTTP 429)")
        if status >= 500:
            raise errors.ServerError("LwA token endpoint HTTP %d" % status)
        code = _error_code(resp)
        resp = None
        if status in (400, 401) and code in _PERMANENT:
            log.error("lwa: refresh refused: " + code)
            raise errors.AuthError("LwA refused the credentials: " + code)
        if code is None:
            raise errors.BadResponse("LwA token endpoint HTTP %d without an error code" % status)
        raise errors.BadRequest("LwA token endpoint HTTP %d: %s" % (status, code))

    def _accept(self, d):
        if not isinstance(d, dict):
            raise errors.BadResponse("LwA token response is not an object")
        access = d.get("access_token")
        if not isinstance(access, str) or not access:
            raise errors.BadResponse("LwA token response without access_token")
        exp = d.get("expires_in", 3600)
        if isinstance(exp, str) and exp.isdigit():
            exp = int(exp)
        if not isinstance(exp, int) or isinstance(exp, bool) or exp <= 0:
            raise errors.BadResponse("LwA token response with a bad expires_in")
        new_rt = d.get("refresh_token")
        self._access = access
        self._expires = self._clock.now() + exp
        log.secret("lwa.access_token", access)
        if isinstance(new_rt, str) and new_rt and new_rt != self._lwa["refresh_token"]:
            self._lwa["refresh_token"] = new_rt
            log.secret("lwa.refresh_token", new_rt)
            self._unsaved = True
            self._persist()
        log.info("lwa: access token refreshed, valid %d s" % exp)

    def _persist(self):
        # Keep the new refresh token in RAM even if flash fails (the old one may
        # be revoked already) and try again on the next token() call.
        try:
            self._save(self._secrets)
            self._unsaved = False
            log.info("lwa: new refresh token saved")
        except Exception as e:  # noqa: BLE001 - flash errors vary by port
            log.error("lwa: could not save the new refresh token: " + type(e).__name__)


def _error_code(resp):
    # {"error": "invalid_grant", "error_description": "..."}: only the code is used.
    try:
        d = resp.json()
    except errors.BadResponse:
        return None
    code = d.get("error") if isinstance(d, dict) else None
    if not isinstance(code, str) or not code:
        return None
    return code[:40]
