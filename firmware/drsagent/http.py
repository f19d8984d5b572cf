# A small HTTP/1.1 client that runs unchanged on CPython and MicroPython:
# one connection at a time, Connection: close, timeouts, a body cap, and TLS
# (drsagent.tlsctx) that always verifies the server against the bundled CAs.
# micropython-lib `requests` hard-codes CERT_NONE, so we do not use it.
#
# Written for a small heap, where every function, name and string literal of a
# module costs RAM for good: no classes (a response is the tuple
# (status, headers, body)), the reader's state in one module list (there is one
# connection at a time), one receive buffer for the whole process, a body with a
# Content-Length read straight into one buffer of its size. Messages are longer
# than 10 characters: a shorter literal is interned, and every interned name counts
# towards the unix port's next name pool (docs/ram-rules.md, rule 8).
import json
import socket

from drsagent import errors
from drsagent.compat import collect, const
from drsagent.hal import clock_is_set, rtc_now

# The receive buffer, allocated when the module loads (while the heap is still in
# one piece): a fresh chunk per recv() is what fails first in a fragmented heap.
_B = bytearray(512)
# The reader's state, at these indices (one global instead of three names).
_POS = const(0)  # next unread byte of _B
_END = const(1)  # bytes of _B holding data
_READ = const(2)  # readinto of the open connection (recv_into on CPython)
_R = [0, 0, None]
_TRUNCATED = const("answer truncated")
_BAD_URL = const("bad URL: not http(s)://host[:port]/path")


def quote(s, buf=None):
    """Percent-encode s (str or bytes) for a URL path segment or a form value.

    With buf (a bytearray) the result is appended to buf (no intermediate strings:
    a refresh token is hundreds of characters) and buf is returned; else a str."""
    if isinstance(s, str):
        s = s.encode()
    o = bytearray() if buf is None else buf
    for c in s:
        # RFC 3986 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~"
        if 47 < c < 58 or 64 < c < 91 or 96 < c < 123 or c in b"-._~":
            o.append(c)
        else:
            o.extend(b"%%%02X" % c)
    return o if buf is not None else o.decode()


def parse_json(body):
    """A response body parsed as JSON; BadResponse if it is not JSON."""
    try:
        return json.loads(body)
    except ValueError:  # includes UnicodeError and CPython's JSONDecodeError
        raise errors.BadResponse("answer is not JSON") from None


def _fill():
    # Refill _B from the connection; its length (0 at EOF).
    r = _R
    r[_POS] = 0
    r[_END] = r[_READ](_B) or 0  # MicroPython's readinto may return None
    return r[_END]


def _line():
    # One line including its b"\n" (shorter only at EOF), as bytes.
    r = _R
    s = b""
    while True:
        i = _B.find(b"\n", r[_POS], r[_END])
        if i >= 0:
            s += memoryview(_B)[r[_POS] : i + 1]
            r[_POS] = i + 1
            return s
        s += memoryview(_B)[r[_POS] : r[_END]]
        r[_POS] = r[_END]
        if len(s) > 2048:
            raise ValueError  # -> BadResponse: a line this long is not HTTP
        if not _fill():
            return s


def _get(buf):
    # Fill memoryview buf completely: what _B holds first, then straight from the socket.
    r = _R
    p = r[_POS]
    k = min(len(buf), r[_END] - p)
    buf[:k] = memoryview(_B)[p : p + k]
    r[_POS] = p + k
    while k < len(buf):
        i = r[_READ](buf[k:])
        if not i:
            raise errors.NetworkError(_TRUNCATED)
        k += i


def request(method, url, headers=None, body=None, timeout=10, max_body=8192, cadata=None):
    """One HTTP request on a fresh connection -> (status, headers, body).

    Result headers: lower-case names -> str values; body: a bytearray (b"" if none).
    body may be bytes/bytearray, str, or a dict/list (sent as JSON).
    Raises errors.NotSent when the request did not leave the device (a bad URL, no CA,
    DNS, connect, TLS handshake, sending); errors.NetworkError for timeouts, resets,
    truncated or oversized bodies after it was sent (the server may have acted on
    it); errors.BadResponse for a malformed HTTP response; errors.TimeNotSet for
    https before the clock is set.
    """
    tls = url[:8] == "https://"
    if tls:
        if not cadata:
            raise errors.NotSent("https without a CA file")  # never an unverified connection
        if not clock_is_set(rtc_now()):  # before NTP the RTC says 1970/2000
            raise errors.TimeNotSet("clock not set (no NTP yet)")
        url, port = url[8:], 443
    elif url[:7] == "http://":
        url, port = url[7:], 80
    else:
        raise errors.NotSent(_BAD_URL)
    i = url.find("/")
    if i < 0:
        i = len(url)
        url += "/"
    hp = url[:i]  # host[:port], for the Host header (no IPv6 literals)
    host, i, p = hp.partition(":")
    if i:  # a port: digits only (int() would raise a bare ValueError), 1..65535
        port = int(p) if p.isdigit() else 0
    if not host or not 0 < port < 65536:
        raise errors.NotSent(_BAD_URL)
    js = isinstance(body, (dict, list))
    if js:
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    # The request line and headers in one buffer, sent with one call; the body is sent
    # with a second call instead of being copied in (a copy of the LwA form beside a
    # bearer-sized buffer is what a fragmented heap cannot spare).
    s = bytearray(("%s %s HTTP/1.1\r\nHost: %s\r\n" % (method, url[len(hp) :], hp)).encode())
    for k in headers or ():  # in pieces: no formatted copy of a bearer-sized line
        s += k.encode()
        s += b": "
        s += headers[k].encode()
        s += b"\r\n"
    if js:  # callers sending a dict never set Content-Type themselves
        s += b"Content-Type: application/json\r\n"
    if body is not None or method == "POST":  # a POST without a body says so
        s += b"Content-Length: %d\r\n" % len(body or b"")
    s += b"Connection: close\r\nUser-Agent: drsagent/1\r\n\r\n"
    headers = url = None
    collect()
    sock = None
    stage = "DNS lookup of"  # for the error message
    try:
        addrs = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        stage = "connect"
        while True:  # each address in turn (localhost: ::1, then 127.0.0.1)
            ai = addrs.pop(0)
            sock = socket.socket(ai[0], socket.SOCK_STREAM)
            try:
                sock.settimeout(timeout)
                sock.connect(ai[-1])
                break
            except OSError:
                sock.close()
                sock = None
                if not addrs:
                    raise
        addrs = ai = None
        if tls:
            stage = "TLS handshake with"
            from drsagent.tlsctx import wrap  # only https devices pay for this code

            sock = wrap(sock, host, cadata)  # MicroPython: ValueError if not verified
        stage = "send"  # a request cut short is incomplete: the server cannot act on it
        sock.sendall(s)
        s = None
        if body:
            sock.sendall(body)
        body = None
        stage = None  # from here on the server may have acted; a ValueError is its answer
        _R[_READ] = getattr(sock, "recv_into", None) or sock.readinto
        _fill()  # also resets the reader

        # The status line and the headers, skipping interim 1xx answers.
        while True:
            s = _line()
            if not s.endswith(b"\n"):
                raise errors.NetworkError(_TRUNCATED)
            s = s.split(None, 2)
            if s[0][:5] != b"HTTP/":
                raise ValueError
            status = int(s[1])
            h = {}
            i = 0
            while True:
                s = _line()
                if not s.endswith(b"\n"):
                    raise errors.NetworkError(_TRUNCATED)
                if not s.strip():
                    break
                i += 1
                if i > 48:
                    raise ValueError
                j = s.index(b":")  # ValueError without one
                name = s[:j].strip().lower().decode()
                s = s[j + 1 :].strip().decode()
                h[name] = h[name] + ", " + s if name in h else s
            if not 99 < status < 200:
                break

        # The body: chunked, Content-Length, or up to the end of the connection
        # (we never send HEAD; a 204/304 has no body and the server closes).
        b = bytearray()
        if "chunked" in h.get("transfer-encoding", "").lower():
            while True:
                s = _line()
                if not s.endswith(b"\n"):
                    raise errors.NetworkError(_TRUNCATED)
                size = int(s.split(b";", 1)[0].strip(), 16)
                if not size:
                    while _line().strip():  # trailers, up to the empty line (or EOF)
                        pass
                    break
                j = len(b)
                if j + size > max_body:
                    b = None
                    break
                b.extend(bytes(size))
                _get(memoryview(b)[j:])
                if _line().strip():
                    raise ValueError
        elif "content-length" in h:
            size = int(h["content-length"])
            if size > max_body:
                b = None
            elif size:
                b = bytearray(size)  # the one allocation of the body
                _get(memoryview(b))
        else:
            while len(b) <= max_body:
                b.extend(memoryview(_B)[_R[_POS] : _R[_END]])
                if not _fill():
                    break
        if b is None or len(b) > max_body:
            raise errors.NetworkError("body > %d bytes" % max_body)
        return status, h, b
    except errors.DrsError:
        raise
    except MemoryError:
        raise errors.NetworkError("out of memory") from None
    except (OSError, ValueError, IndexError) as e:
        if stage is None and not isinstance(e, OSError):
            # int(), decode(), index() and the like on what the server sent
            raise errors.BadResponse("malformed HTTP answer") from None
        a = e.args
        if a and a[0] in (11, 110, 116):  # EAGAIN, ETIMEDOUT (Linux, lwIP)
            a = "timed out (%d s)" % timeout
        else:  # short and secret-free: socket/TLS errors carry no payload
            a = "%s: %s" % (type(e).__name__, str(e)[:80])
        # stage set: the request never (completely) left the device
        kind = errors.NotSent if stage else errors.NetworkError
        raise kind("%s host %s: %s" % (stage or method, host, a)) from None
    finally:
        _R[_READ] = None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass
        sock = None
        collect()
