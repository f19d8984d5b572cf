# A small HTTP/1.1 client that runs unchanged on CPython and MicroPython:
# one connection at a time, Connection: close, timeouts, a body cap, and TLS
# (drsagent.tlsctx) that always verifies the server against the bundled CAs.
# micropython-lib `requests` hard-codes CERT_NONE, so we do not use it.
import json
import socket
import time

from drsagent import errors
from drsagent.compat import collect, const

_RECV = const(512)
_MAX_LINE = const(2048)
_MAX_HEADERS = const(48)
_MIN_YEAR = const(2024)  # before NTP the RTC says 1970/2000: TLS cannot verify dates

# "-._~" and alphanumerics stay as they are in a URL component (RFC 3986).
_SAFE = b"-._~"


def quote(s):
    """Percent-encode a str for a URL path segment or a form value."""
    if isinstance(s, str):
        s = s.encode()
    # One growing bytearray, not a list of one-character strings (a refresh token is
    # hundreds of characters: the list alone would need kilobytes in one piece).
    out = bytearray()
    for b in s:
        if (48 <= b <= 57) or (65 <= b <= 90) or (97 <= b <= 122) or b in _SAFE:
            out.append(b)
        else:
            out.extend(b"%%%02X" % b)
    return out.decode()


class Response:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        """The body as JSON; BadResponse if it is not valid JSON."""
        try:
            return json.loads(self.body)
        except ValueError:  # includes UnicodeError and CPython's JSONDecodeError
            raise errors.BadResponse("invalid JSON body (HTTP %d)" % self.status) from None


def _split_url(url):
    if url.startswith("https://"):
        tls, rest, port = True, url[8:], 443
    elif url.startswith("http://"):
        tls, rest, port = False, url[7:], 80
    else:
        raise errors.NetworkError("unsupported URL scheme")
    i = rest.find("/")
    if i < 0:
        hostport, path = rest, "/"
    else:
        hostport, path = rest[:i], rest[i:]
    host = hostport
    if hostport.startswith("["):  # IPv6 literal
        j = hostport.find("]")
        host = hostport[1:j]
        if hostport[j + 1 : j + 2] == ":":
            port = int(hostport[j + 2 :])
    elif ":" in hostport:
        host, p = hostport.rsplit(":", 1)
        port = int(p)
    if not host:
        raise errors.NetworkError("URL has no host")
    return tls, host, port, hostport, path


# One receive buffer for the whole process (one connection at a time), allocated
# when this module loads, while the heap is still in one piece: a fresh 512-byte
# chunk per recv() is what fails first in a small, fragmented heap.
_BUF = bytearray(_RECV)


class _Reader:
    # Buffered reads on top of recv_into()/readinto(), the calls that fill a buffer
    # we own on every socket flavour (CPython/MicroPython, plain/TLS).
    def __init__(self, sock):
        self._into = getattr(sock, "recv_into", None) or sock.readinto
        self._n = 0  # bytes of _BUF holding data
        self._pos = 0  # next unread byte

    def _more(self):
        self._pos = 0
        self._n = self._into(_BUF) or 0  # MicroPython's readinto may return None
        return self._n > 0

    def readline(self):
        line = b""
        while True:
            i = _BUF.find(b"\n", self._pos, self._n)
            if i >= 0:
                line += _BUF[self._pos : i + 1]
                self._pos = i + 1
                return bytes(line)
            if self._pos < self._n:
                line += _BUF[self._pos : self._n]
            self._pos = self._n
            if len(line) > _MAX_LINE:
                raise errors.BadResponse("HTTP header line too long")
            if not self._more():
                return bytes(line)

    def read_into(self, out, n):
        """Append exactly n bytes to bytearray out; False on early EOF."""
        while n > 0:
            if self._pos >= self._n and not self._more():
                return False
            take = min(n, self._n - self._pos)
            out.extend(memoryview(_BUF)[self._pos : self._pos + take])
            self._pos += take
            n -= take
        return True

    def read_rest(self, out, cap):
        """Append everything until EOF; False if it exceeds cap."""
        while True:
            if self._pos < self._n:
                out.extend(memoryview(_BUF)[self._pos : self._n])
                self._pos = self._n
            if len(out) > cap:
                return False
            if not self._more():
                return True


def _head(method, path, hostport, headers, body):
    parts = [method, " ", path, " HTTP/1.1\r\nHost: ", hostport, "\r\n"]
    for k in headers:
        parts.append(k)
        parts.append(": ")
        parts.append(str(headers[k]))
        parts.append("\r\n")
    if body is not None or method in ("POST", "PUT", "PATCH"):
        parts.append("Content-Length: %d\r\n" % (len(body) if body else 0))
    parts.append("Connection: close\r\nUser-Agent: drsagent/1\r\n\r\n")
    return "".join(parts).encode()


def _read_response(rd, method, max_body):
    # Status line (skipping interim 1xx answers).
    while True:
        line = rd.readline()
        if not line:
            raise errors.NetworkError("connection closed before a response")
        if not line.endswith(b"\n"):
            raise errors.NetworkError("truncated status line")
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise errors.BadResponse("malformed HTTP status line")
        try:
            status = int(parts[1])
        except ValueError:
            raise errors.BadResponse("malformed HTTP status code") from None
        headers = {}
        count = 0
        while True:
            line = rd.readline()
            if not line.endswith(b"\n"):
                raise errors.NetworkError("truncated HTTP headers")
            if line in (b"\r\n", b"\n"):
                break
            count += 1
            if count > _MAX_HEADERS:
                raise errors.BadResponse("too many HTTP headers")
            name, sep, value = line.partition(b":")
            if not sep:
                raise errors.BadResponse("malformed HTTP header")
            try:
                name = name.strip().lower().decode()
                value = value.strip().decode()
            except ValueError:
                raise errors.BadResponse("malformed HTTP header") from None
            if name in headers:
                value = headers[name] + ", " + value
            headers[name] = value
        if status >= 200 or status < 100:
            break

    body = bytearray()
    if method == "HEAD" or status in (204, 304):
        return Response(status, headers, b"")
    te = headers.get("transfer-encoding", "").lower()
    if "chunked" in te:
        while True:
            line = rd.readline()
            if not line.endswith(b"\n"):
                raise errors.NetworkError("truncated chunked body")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise errors.BadResponse("malformed chunk size") from None
            if size == 0:
                # Trailers (rarely sent) end with an empty line.
                while True:
                    line = rd.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                break
            if len(body) + size > max_body:
                raise errors.NetworkError("response body larger than %d bytes" % max_body)
            if not rd.read_into(body, size):
                raise errors.NetworkError("truncated chunked body")
            if rd.readline() not in (b"\r\n", b"\n"):
                raise errors.NetworkError("truncated chunked body")
    elif "content-length" in headers:
        try:
            n = int(headers["content-length"])
        except ValueError:
            raise errors.BadResponse("malformed Content-Length") from None
        if n > max_body:
            raise errors.NetworkError("response body larger than %d bytes" % max_body)
        if n > 0 and not rd.read_into(body, n):
            raise errors.NetworkError("truncated body (%d of %d bytes)" % (len(body), n))
    else:
        if not rd.read_rest(body, max_body):
            raise errors.NetworkError("response body larger than %d bytes" % max_body)
    return Response(status, headers, bytes(body))


def _connect(host, port, timeout):
    try:
        addrs = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    except OSError:
        raise errors.NetworkError("DNS lookup failed for " + host) from None
    last = None
    for ai in addrs:
        sock = socket.socket(ai[0], socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(ai[-1])
            return sock
        except OSError as e:
            sock.close()
            last = e
    raise errors.NetworkError("connect %s:%d failed: %s" % (host, port, _reason(last)))


def _reason(e):
    # Short, secret-free description of a socket/TLS exception.
    if e is None:
        return "no address"
    # CPython's ssl errors carry the useful part in verify_message / reason.
    msg = getattr(e, "verify_message", None) or getattr(e, "reason", None)
    if msg:
        return type(e).__name__ + ": " + str(msg)[:80]
    if isinstance(e, OSError) and e.args and isinstance(e.args[0], int):
        code = e.args[0]
        if code in (110, 116, 11):  # ETIMEDOUT (Linux, lwIP), EAGAIN
            return "timed out"
        return "errno %d" % code
    name = type(e).__name__
    if name in ("timeout", "TimeoutError"):
        return "timed out"
    msg = str(e).strip()
    return name + (": " + msg[:80] if msg else "")


def request(method, url, headers=None, body=None, timeout=10, max_body=8192, cadata=None):
    """One HTTP request on a fresh connection -> Response.

    Raises errors.NetworkError for DNS/connect/TLS/timeouts/resets, truncated or
    oversized bodies; errors.BadResponse for a malformed HTTP response;
    errors.TimeNotSet for https before the clock is set.
    """
    tls, host, port, hostport, path = _split_url(url)
    if tls:
        if not cadata:
            raise errors.NetworkError("https needs a CA bundle (ca_file)")
        if time.gmtime()[0] < _MIN_YEAR:
            raise errors.TimeNotSet("clock not set: cannot verify TLS certificates")
    hdrs = {}
    ctype = False
    if headers:
        for k in headers:
            hdrs[k] = headers[k]
            ctype = ctype or k.lower() == "content-type"
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        if not ctype:
            hdrs["Content-Type"] = "application/json"
    if isinstance(body, str):
        body = body.encode()
    head = _head(method, path, hostport, hdrs, body)
    hdrs = None
    collect()
    sock = None
    try:
        sock = _connect(host, port, timeout)
        if tls:
            from drsagent.tlsctx import wrap  # only https devices pay for this code

            try:
                sock = wrap(sock, host, cadata)
            except (OSError, ValueError) as e:
                # MicroPython reports a failed verification as ValueError.
                msg = "TLS handshake with %s failed: %s" % (host, _reason(e))
                raise errors.NetworkError(msg) from None
        sock.sendall(head)
        head = None
        if body:
            sock.sendall(body)
        return _read_response(_Reader(sock), method, max_body)
    except errors.DrsError:
        raise
    except MemoryError:
        raise errors.NetworkError("out of memory during HTTP request") from None
    except (OSError, ValueError) as e:
        raise errors.NetworkError("%s %s: %s" % (method, host, _reason(e))) from None
    finally:
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass
        sock = None
        collect()
