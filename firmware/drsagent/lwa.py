# Login with Amazon: turns the long-lived refresh token into short-lived access
# tokens, lazily. The access token lives in RAM only; the refresh token is
# written back to flash only when LwA hands out a different one.
from drsagent import errors, http, log


class TokenManager:
    # Attributes (one letter: on the device every attribute name costs heap):
    #   c  (url, secrets, save_secrets, clock, timeout, cadata) as given
    #   l  the "lwa" part of secrets (updated in place when the refresh token changes)
    #   a  the access token or None;  e  its expiry on the clock
    #   n  True while a new refresh token is not on flash yet

    def __init__(self, url, secrets, save, clock, timeout=10, cadata=None):
        # secrets: the whole secrets.json dict (we update secrets["lwa"] in place
        # and hand the whole dict to save), or just its "lwa" part.
        self.c = (url, secrets, save, clock, timeout, cadata)
        self.l = secrets["lwa"] if "lwa" in secrets else secrets
        self.a = None
        self.e = 0
        self.n = False
        log.secret("c", self.l.get("client_secret"))
        log.secret("r", self.l.get("refresh_token"))

    def invalidate(self):
        """Forget the access token (DRS said it is invalid); the next token() refreshes."""
        self.a = None
        log.secret("a", None)

    def token(self):
        """A valid access token, refreshing it first if missing or near expiry
        (300 s of margin for clock skew and the time a call takes)."""
        url, s, save, clock, timeout, cadata = self.c
        if self.a is None or clock.now() >= self.e - 300:
            self.a = None
            lwa = self.l
            # The form body, percent-encoded straight into one buffer.
            b = bytearray(b"grant_type=refresh_token")
            for k in ("refresh_token", "client_id", "client_secret"):
                b += b"&%s=" % k.encode()
                http.quote(lwa[k], b)
            r = http.request(
                "POST",
                url,
                {"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"},
                b,
                timeout=timeout,
                cadata=cadata,
            )
            b = None
            st = r[0]
            if st == 200:
                d = http.load(r)
                r = None
                a = d.get("access_token") if isinstance(d, dict) else None
                x = d.get("expires_in", 3600) if a else 0
                if isinstance(x, str) and x.isdigit():
                    x = int(x)
                if not isinstance(a, str) or type(x) is not int or x <= 0:
                    raise errors.BadResponse("%s HTTP %d %s" % ("lwa", st, "no token"))
                self.a = a
                self.e = clock.now() + x
                log.secret("a", a)
                a = d.get("refresh_token")
                if isinstance(a, str) and a and a != lwa["refresh_token"]:
                    lwa["refresh_token"] = a
                    log.secret("r", a)
                    self.n = True
                log.info("lwa: token %d s" % x)
            else:
                d = ""
                if st == 429:
                    e = errors.Throttled
                elif st > 499:
                    e = errors.ServerError
                else:
                    # {"error": "invalid_grant", "error_description": "..."}: only the code.
                    try:
                        d = http.load(r)["error"][:40]
                    except (errors.BadResponse, KeyError, TypeError):
                        pass
                    if not (isinstance(d, str) and d):
                        e = errors.BadResponse
                    elif st in (400, 401) and d in (
                        "invalid_grant",
                        "invalid_client",
                        "unauthorized_client",
                    ):
                        e = errors.AuthError  # dead credentials: re-provision, do not retry
                    else:
                        e = errors.BadRequest
                d = "%s HTTP %d %s" % ("lwa", st, d)
                if e is errors.AuthError:
                    log.error(d)
                raise e(d)
        if self.n:
            # Keep the new refresh token in RAM even if flash fails (the old one may
            # be revoked already) and try again on the next token() call.
            try:
                save(s)
                self.n = False
                log.info("lwa: saved")
            except Exception as e:  # noqa: BLE001 - flash errors vary by port
                log.error("lwa: save: %s" % type(e).__name__)
        return self.a
