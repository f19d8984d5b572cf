import json
import time
import types

import pytest
from drsagent import errors, http
from script_server import (
    HANG,
    chunked_reply,
    needs_micropython,
    reply,
    to_close_reply,
)

from host_tests.fake_tokens import REFRESH

# -- CPython ------------------------------------------------------------------------


def test_get_with_content_length_and_request_shape(server):
    server.add(reply(200, b'{"a": 1}', {"X-Amzn-Thing": "v1", "Content-Type": "application/json"}))
    r = http.request("GET", server.url + "/x/y?q=1", headers={"Accept": "application/json"})
    status, headers, body = r  # a response is a plain tuple
    assert status == 200
    assert body == b'{"a": 1}'
    assert http.parse_json(r[2]) == {"a": 1}
    assert headers["x-amzn-thing"] == "v1"  # names lower-cased
    assert headers["content-type"] == "application/json"
    req = server.requests[0]
    assert req.method == "GET" and req.path == "/x/y?q=1"
    assert req.headers["host"] == f"127.0.0.1:{server.port}"
    assert req.headers["connection"] == "close"
    assert req.headers["accept"] == "application/json"
    assert "content-length" not in req.headers  # GET without a body


@pytest.mark.parametrize(
    ("body", "sent", "ctype"),
    [
        (b"raw\x00bytes", b"raw\x00bytes", None),
        ("caf\u00e9", "caf\u00e9".encode(), None),
        ({"k": [1, 2]}, b'{"k": [1, 2]}', "application/json"),
    ],
)
def test_post_bodies_carry_content_length(server, body, sent, ctype):
    server.add(reply(201, b""))
    status, _, rbody = http.request("POST", server.url + "/p", body=body)
    assert status == 201 and rbody == b""
    req = server.requests[0]
    assert json.loads(req.body) == json.loads(sent) if ctype else req.body == sent
    assert req.headers["content-length"] == str(len(req.body))
    assert req.headers.get("content-type") == ctype


def test_post_without_body_sends_zero_length(server):
    server.add(reply(200))
    http.request("POST", server.url + "/replenish/s1")
    assert server.requests[0].headers["content-length"] == "0"
    assert server.requests[0].body == b""


def test_chunked_body(server):
    server.add(chunked_reply([b'{"x":', b" 12", b"345}"]))
    r = http.request("GET", server.url + "/c")
    assert r[0] == 200 and r[2] == b'{"x": 12345}'
    assert http.parse_json(r[2]) == {"x": 12345}


def test_read_to_close_body(server):
    payload = b"z" * 3000
    server.add(to_close_reply(payload))
    assert http.request("GET", server.url + "/rc")[2] == payload


def test_interim_100_continue_is_skipped(server):
    server.add(b"HTTP/1.1 100 Continue\r\n\r\n" + reply(200, b"ok"))
    status, _, body = http.request("GET", server.url + "/")
    assert (status, body) == (200, b"ok")


def test_duplicate_headers_are_joined(server):
    server.add(b"HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 0\r\n\r\n")
    assert http.request("GET", server.url + "/")[1]["x-a"] == "1, 2"


@pytest.mark.parametrize(
    "raw",
    [
        reply(200, b"x" * 101),  # Content-Length over the cap: refused before reading
        chunked_reply([b"x" * 60, b"y" * 60]),
        to_close_reply(b"x" * 101),
    ],
    ids=["content-length", "chunked", "read-to-close"],
)
def test_body_cap(server, raw):
    server.add(raw)
    with pytest.raises(errors.NetworkError, match="body > 100 bytes"):
        http.request("GET", server.url + "/", max_body=100)


def test_body_exactly_at_cap_is_fine(server):
    server.add(reply(200, b"x" * 100))
    assert len(http.request("GET", server.url + "/", max_body=100)[2]) == 100


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nonly-some",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
        b"HTTP/1.1 200 OK\r\nContent-Len",
        b"",
    ],
    ids=["content-length", "chunked", "headers", "nothing"],
)
def test_truncated_response_is_network_error(server, raw):
    server.add(raw)
    with pytest.raises(errors.NetworkError):
        http.request("GET", server.url + "/")


@pytest.mark.parametrize(
    "raw", [b"SPAM\r\n\r\n", b"HTTP/1.1 abc OK\r\n\r\n", b"HTTP/1.1 200 OK\r\nnocolon\r\n\r\n"]
)
def test_malformed_response_is_bad_response(server, raw):
    server.add(raw)
    with pytest.raises(errors.BadResponse):
        http.request("GET", server.url + "/")


def test_json_on_garbage_body_is_bad_response(server):
    server.add(reply(200, b"<html>oops"))
    r = http.request("GET", server.url + "/")
    with pytest.raises(errors.BadResponse):
        http.parse_json(r[2])


def test_read_timeout_is_a_real_socket_timeout(silent_port):
    t0 = time.monotonic()
    with pytest.raises(errors.NetworkError, match="timed out"):
        http.request("GET", f"http://127.0.0.1:{silent_port}/", timeout=0.3)
    elapsed = time.monotonic() - t0
    assert 0.25 <= elapsed < 3


def test_server_that_reads_but_never_answers_times_out(server):
    server.add(HANG)
    with pytest.raises(errors.NetworkError, match="timed out"):
        http.request("POST", server.url + "/", body=b"x", timeout=0.3)
    assert server.requests[0].body == b"x"


def test_connection_refused_and_dns_failure(silent_port):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(errors.NetworkError, match="connect"):
        http.request("GET", f"http://127.0.0.1:{port}/", timeout=2)
    with pytest.raises(errors.NetworkError, match="DNS"):
        http.request("GET", "http://no-such-host.invalid/", timeout=2)


def test_bad_url_scheme():
    with pytest.raises(errors.NetworkError):
        http.request("GET", "ftp://example.com/")


BAD_URLS = [
    "http://127.0.0.1:80a/x",
    "http://127.0.0.1:/x",
    "http://127.0.0.1:-1/",
    "http://127.0.0.1:70000/",
    "http://127.0.0.1:0/",
    "https://host:port/",
    "http://:8080/",
    "http:///path",
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_bad_url_is_a_network_error_not_a_value_error(url):
    with pytest.raises(errors.NetworkError, match="bad URL"):
        http.request("GET", url, cadata=b"x")


def test_sockets_are_closed_on_every_path(server, monkeypatch):
    import socket

    opened = []
    real = socket.socket

    class Tracking(real):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            opened.append(self)

    # Only the client's socket module is swapped, not the server thread's.
    fake = types.SimpleNamespace(
        socket=Tracking, getaddrinfo=socket.getaddrinfo, SOCK_STREAM=socket.SOCK_STREAM
    )
    monkeypatch.setattr(http, "socket", fake)
    server.add(
        reply(200, b"ok"), b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab", b"junk\r\n\r\n"
    )
    http.request("GET", server.url + "/")
    with pytest.raises(errors.NetworkError):
        http.request("GET", server.url + "/")
    with pytest.raises(errors.BadResponse):
        http.request("GET", server.url + "/")
    assert len(opened) == 3
    assert all(s.fileno() == -1 for s in opened)


def test_quote():
    assert http.quote("a b/c|d~e.f-g_h") == "a%20b%2Fc%7Cd~e.f-g_h"
    assert http.quote(f"{REFRESH}\u00e9") == "Atzr%7C%C3%A9"


# -- TLS on CPython -------------------------------------------------------------------


def test_https_verifies_against_bundle(tls_server, tls_material):
    tls_server.add(reply(200, b"secure"))
    status, _, body = http.request("GET", tls_server.url + "/s", cadata=tls_material["bundle_pem"])
    assert (status, body) == (200, b"secure")
    assert tls_server.requests[0].headers["host"] == f"localhost:{tls_server.port}"


def test_https_refuses_cert_from_another_ca(tls_server, tls_material):
    tls_server.add(reply(200, b"secure"))
    with pytest.raises(errors.NetworkError, match="TLS"):
        http.request("GET", tls_server.url + "/s", cadata=tls_material["other_pem"])
    assert tls_server.requests == []  # nothing was sent over the refused channel


def test_https_refuses_wrong_hostname(tls_server, tls_material):
    # The certificate is for localhost/127.0.0.1; 127.0.0.2 is the same box, wrong name.
    tls_server.add(reply(200, b"secure"))
    url = tls_server.url.replace("localhost", "127.0.0.2")
    tls_server.host = "127.0.0.2"
    with pytest.raises(errors.NetworkError):
        http.request("GET", url, cadata=tls_material["ca_pem"], timeout=2)
    assert tls_server.requests == []


def test_https_without_cadata_never_falls_back(tls_server):
    with pytest.raises(errors.NetworkError, match="CA file"):
        http.request("GET", tls_server.url + "/")
    assert tls_server.requests == []


# -- MicroPython ----------------------------------------------------------------------

MP_CALL = """
import json
from drsagent import http, errors
def call(*a, **kw):
    try:
        r = http.request(*a, **kw)
        print(json.dumps({"status": r[0], "headers": r[1], "body": r[2].decode()}))
    except errors.DrsError as e:
        print(json.dumps({"err": type(e).__name__, "msg": str(e)}))
"""


def mp_calls(mpy, lines, **kw):
    out = mpy(MP_CALL + "\n".join(lines), **kw)
    return [json.loads(x) for x in out.strip().splitlines()]


@pytest.mark.micropython
@needs_micropython
def test_micropython_http_bodies(server, mpy):
    server.add(
        reply(200, b"hello", {"X-Amzn-ErrorType": "E"}),
        chunked_reply([b"ab", b"cd"]),
        to_close_reply(b"rest"),
        reply(200, b"x" * 200),
        b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort",
    )
    u = server.url
    res = mp_calls(
        mpy,
        [
            f"call('POST', '{u}/a', body={{'k': 1}}, headers={{'X-T': 'v'}})",
            f"call('GET', '{u}/b')",
            f"call('GET', '{u}/c')",
            f"call('GET', '{u}/d', max_body=100)",
            f"call('GET', '{u}/e')",
        ],
    )
    assert res[0] == {
        "status": 200,
        "headers": {"x-amzn-errortype": "E", "content-length": "5", "connection": "close"},
        "body": "hello",
    }
    assert res[1]["body"] == "abcd"
    assert res[2]["body"] == "rest"
    assert res[3]["err"] == "NetworkError" and "body > 100" in res[3]["msg"]
    assert res[4]["err"] == "NetworkError" and "truncated" in res[4]["msg"]
    first = server.requests[0]
    assert first.method == "POST" and first.path == "/a"
    assert json.loads(first.body) == {"k": 1}
    assert first.headers["content-length"] == str(len(first.body))
    assert first.headers["content-type"] == "application/json"
    assert first.headers["x-t"] == "v" and first.headers["connection"] == "close"


@pytest.mark.micropython
@needs_micropython
def test_micropython_timeout(silent_port, mpy):
    res = mp_calls(
        mpy,
        [
            "import time",
            "t0 = time.ticks_ms()",
            f"call('GET', 'http://127.0.0.1:{silent_port}/', timeout=0.3)",
            "print(json.dumps({'ms': time.ticks_diff(time.ticks_ms(), t0)}))",
        ],
    )
    assert res[0]["err"] == "NetworkError" and "timed out" in res[0]["msg"]
    assert 250 <= res[1]["ms"] < 3000


@pytest.mark.micropython
@needs_micropython
@pytest.mark.parametrize("frozen", [False, True], ids=["tls-module", "ssl-module"])
def test_micropython_tls_verify_ok_and_refused(tls_server, tls_material, mpy, tmp_path, frozen):
    # frozen=True puts micropython-lib's ssl.py on the path; without it the
    # client falls back to the built-in tls module. Both must verify.
    (tmp_path / "bundle.pem").write_bytes(tls_material["bundle_pem"])
    (tmp_path / "other.pem").write_bytes(tls_material["other_pem"])
    tls_server.add(reply(200, b"secure"), reply(200, b"never"))
    u = tls_server.url
    res = mp_calls(
        mpy,
        [
            "ca = open('bundle.pem').read()",
            "other = open('other.pem', 'rb').read()",
            f"call('GET', '{u}/ok', cadata=ca)",
            f"call('GET', '{u}/bad', cadata=other)",
            f"call('GET', '{u}/none')",
        ],
        frozen=frozen,
    )
    assert res[0]["status"] == 200 and res[0]["body"] == "secure"
    # refused before the request left the device: nothing was sent
    assert res[1]["err"] == "NotSent" and "TLS" in res[1]["msg"]
    assert res[2]["err"] == "NotSent" and "CA file" in res[2]["msg"]
    assert [r.path for r in tls_server.requests] == ["/ok"]


@pytest.mark.micropython
@needs_micropython
def test_micropython_bad_url_is_a_network_error(mpy):
    res = mp_calls(mpy, [f"call('GET', {u!r}, cadata=b'x')" for u in BAD_URLS])
    assert res == [{"err": "NotSent", "msg": "bad URL: not http(s)://host[:port]/path"}] * len(
        BAD_URLS
    )
