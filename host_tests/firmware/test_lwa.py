import copy
import json
from urllib.parse import parse_qs

import pytest
from drsagent import errors, log
from drsagent.lwa import TokenManager
from script_server import json_reply, needs_micropython, reply

from host_tests.fake_tokens import ACCESS, REFRESH

SECRETS = {
    "wifi": {"ssid": "home", "password": "wifi-pass"},
    "lwa": {
        "client_id": "amzn1.application-oa2-client.abc",
        "client_secret": "cs&=+/ secret",  # characters that must be url-encoded
        "refresh_token": f"{REFRESH}FAKErefresh-1",
    },
}


def ok(access=f"{ACCESS}access-1", expires=3600, refresh=None):
    d = {"access_token": access, "token_type": "bearer", "expires_in": expires}
    if refresh:
        d["refresh_token"] = refresh
    return json_reply(200, d)


@pytest.fixture
def saved():
    return []


@pytest.fixture
def make(server, clock, saved):
    def build(**kw):
        secrets = copy.deepcopy(SECRETS)
        tm = TokenManager(
            server.url + "/auth/o2/token",
            secrets,
            lambda s: saved.append(copy.deepcopy(s)),
            clock,
            timeout=2,
            **kw,
        )
        return tm, secrets

    return build


def test_refresh_sends_form_encoded_grant(server, make, saved):
    server.add(ok())
    tm, _ = make()
    assert tm.token() == f"{ACCESS}access-1"
    req = server.requests[0]
    assert req.method == "POST" and req.path == "/auth/o2/token"
    assert req.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert int(req.headers["content-length"]) == len(req.body)
    form = parse_qs(req.body.decode(), strict_parsing=True)
    assert form == {
        "grant_type": ["refresh_token"],
        "refresh_token": [f"{REFRESH}FAKErefresh-1"],
        "client_id": ["amzn1.application-oa2-client.abc"],
        "client_secret": ["cs&=+/ secret"],
    }
    assert b"Atzr%7CFAKErefresh-1" in req.body
    assert saved == []  # the refresh token did not change: no flash write


def test_lazy_refresh_with_skew(server, make, clock):
    server.add(ok(f"{ACCESS}one", 3600), ok(f"{ACCESS}two", 3600))
    tm, _ = make()  # renews 300 s before expiry
    assert tm.token() == f"{ACCESS}one"
    t0 = clock.t
    clock.t = t0 + 3600 - 301  # still more than `skew` left: cached
    assert tm.token() == f"{ACCESS}one"
    assert len(server.requests) == 1
    clock.t = t0 + 3600 - 300  # within skew: refresh before it expires
    assert tm.token() == f"{ACCESS}two"
    assert len(server.requests) == 2
    clock.t += 3600 - 301
    assert tm.token() == f"{ACCESS}two"  # the new token's expiry counts from its refresh
    assert len(server.requests) == 2


def test_invalidate_forces_a_refresh(server, make):
    server.add(ok(f"{ACCESS}one"), ok(f"{ACCESS}two"))
    tm, _ = make()
    assert tm.token() == f"{ACCESS}one"
    tm.invalidate()
    assert tm.token() == f"{ACCESS}two"
    assert len(server.requests) == 2


def test_new_refresh_token_is_persisted_once(server, make, saved, clock):
    server.add(
        ok(f"{ACCESS}one", refresh=f"{REFRESH}FAKErefresh-2"),
        ok(f"{ACCESS}two", refresh=f"{REFRESH}FAKErefresh-2"),
    )
    tm, secrets = make()
    tm.token()
    assert secrets["lwa"]["refresh_token"] == f"{REFRESH}FAKErefresh-2"
    assert len(saved) == 1
    assert saved[0]["lwa"]["refresh_token"] == f"{REFRESH}FAKErefresh-2"
    assert saved[0]["wifi"] == SECRETS["wifi"]  # the whole file is written back
    clock.t += 4000
    tm.token()  # same refresh token again: nothing to write
    assert len(saved) == 1
    assert "Atzr%7CFAKErefresh-2" in server.requests[1].body.decode()


def test_failed_save_is_retried_and_new_token_kept(server, clock):
    calls = []

    def flaky_save(s):
        calls.append(s["lwa"]["refresh_token"])
        if len(calls) == 1:
            raise OSError(28, "no space")

    server.add(ok(f"{ACCESS}one", refresh=f"{REFRESH}new"))
    tm = TokenManager(server.url + "/t", copy.deepcopy(SECRETS), flaky_save, clock)
    assert tm.token() == f"{ACCESS}one"
    assert tm.token() == f"{ACCESS}one"  # no new request, but the save is retried
    assert calls == [f"{REFRESH}new", f"{REFRESH}new"]
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "invalid_grant"), (401, "invalid_client"), (400, "unauthorized_client")],
)
def test_permanent_errors_are_auth_errors(server, make, status, code, captured_log):
    server.add(
        json_reply(
            status, {"error": code, "error_description": f"refresh {REFRESH}FAKErefresh-1 bad"}
        )
    )
    tm, _ = make()
    with pytest.raises(errors.AuthError) as ei:
        tm.token()
    assert code in str(ei.value)
    assert not ei.value.transient
    assert_no_secrets(str(ei.value), captured_log)


@pytest.mark.parametrize(
    ("raw", "exc"),
    [
        (json_reply(500, {"error": "server_error"}), errors.ServerError),
        (json_reply(503, None), errors.ServerError),
        (reply(429, b""), errors.Throttled),
        (reply(200, b"not json"), errors.BadResponse),
        (json_reply(200, {"token_type": "bearer"}), errors.BadResponse),
        (json_reply(200, {"access_token": f"{ACCESS}x", "expires_in": -5}), errors.BadResponse),
        (json_reply(200, [f"{ACCESS}x"]), errors.BadResponse),
        (reply(400, b"<html>"), errors.BadResponse),
        (json_reply(400, {"error": "invalid_request"}), errors.BadRequest),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n{", errors.NetworkError),
    ],
)
def test_error_mapping(server, make, raw, exc, captured_log):
    server.add(raw)
    tm, _ = make()
    with pytest.raises(exc) as ei:
        tm.token()
    assert type(ei.value) is exc
    assert tm.access_token is None  # no access token kept
    assert_no_secrets(str(ei.value), captured_log)


def test_transient_error_then_success(server, make):
    server.add(json_reply(502, {}), ok(f"{ACCESS}later"))
    tm, _ = make()
    with pytest.raises(errors.ServerError) as ei:
        tm.token()
    assert ei.value.transient
    assert tm.token() == f"{ACCESS}later"


def test_network_error_when_lwa_is_down(silent_port, clock):
    tm = TokenManager(
        f"http://127.0.0.1:{silent_port}/t", copy.deepcopy(SECRETS), print, clock, timeout=0.3
    )
    with pytest.raises(errors.NetworkError):
        tm.token()


def assert_no_secrets(text, lines):
    blob = text + "\n".join(lines) + repr(lines)
    for s in ("FAKErefresh", "cs&=+/ secret", "cs%26", f"{ACCESS}access", f"{ACCESS}x"):
        assert s not in blob


def test_tokens_never_in_logs(server, make, captured_log):
    server.add(ok(f"{ACCESS}access-secret-xyz", refresh=f"{REFRESH}FAKErefresh-9"))
    tm, _ = make()
    token = tm.token()
    assert token == f"{ACCESS}access-secret-xyz"
    assert captured_log, "the refresh is logged"
    log.info("debug dump: " + token + " " + json.dumps(SECRETS))  # a careless line
    for s in ("access-secret-xyz", "FAKErefresh-9", "FAKErefresh-1", "cs&=+/ secret", "wifi-pass"):
        assert s not in "\n".join(captured_log)


@pytest.mark.micropython
@needs_micropython
def test_lwa_on_micropython(server, mpy):
    server.add(
        ok(f"{ACCESS}one", 600, refresh=f"{REFRESH}rotated"),
        json_reply(400, {"error": "invalid_grant", "error_description": "revoked"}),
    )
    out = mpy(
        f"""
        import json
        from drsagent import errors, log
        from drsagent.lwa import TokenManager
        class Clock:
            t = 1767225600
            def now(self):
                return self.t
        lines = []
        log.set_log_sink(lines.append)
        saved = []
        clock = Clock()
        tm = TokenManager("{server.url}/auth/o2/token", {json.dumps(SECRETS)},
                          lambda s: saved.append(s["lwa"]["refresh_token"]), clock)
        r = {{"t1": tm.token(), "t2": tm.token()}}
        clock.t += 400
        try:
            tm.token()
        except errors.AuthError as e:
            r["err"] = str(e)
        r["saved"] = saved
        r["log"] = lines
        print(json.dumps(r))
        """
    )
    r = json.loads(out)
    assert r["t1"] == r["t2"] == f"{ACCESS}one"
    assert r["err"] == "lwa HTTP 400 invalid_grant"
    assert r["saved"] == [f"{REFRESH}rotated"]
    assert len(server.requests) == 2
    form = parse_qs(server.requests[0].body.decode())
    assert form["client_secret"] == ["cs&=+/ secret"]
    assert parse_qs(server.requests[1].body.decode())["refresh_token"] == [f"{REFRESH}rotated"]
    assert not any(f"{ACCESS}one" in x or "rotated" in x for x in r["log"])
