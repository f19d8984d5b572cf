"""Generated and mutated requests (issue 12, section 5), on top of test_fuzz.py's sweep.

Hypothesis takes a valid request of a route of one service (DRS, LwA, SP-API, MWS,
control: the route list, contexts, body templates and the answer check are
test_fuzz.py's) and mutates it one to three times: the method, a path segment, a
header (dropped, duplicated, a unicode value, a malformed ``Origin``), the content
type, the query, the body (truncated, a bit flipped, invalid UTF-8 inserted, a node
of the JSON replaced by a wrong type, a huge number, deep nesting, or random bytes).

Every answer must be below 500, never show a traceback or a Python repr, and be in
the service's error shape; and a refused request (4xx) leaves the store as it was
(every table but the request log and the rate-limit buckets, which count refusals
too). Bounded and replayable: a few dozen examples per service, derandomized.
"""

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx
import pytest
from drsctl.emulator import drs, mws, spapi
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from host_tests.emulator.conftest import drs_headers
from host_tests.emulator.seller_world import US, World
from host_tests.emulator.test_fuzz import (  # noqa: F401  (contexts: a fixture)
    ROUTES,
    Ctx,
    _check,
    _nodes,
    _replaced,
    _templates,
    contexts,
)

SERVICES: dict[str, list[tuple[str, str]]] = {
    "drs": [(e.method, e.path) for e in drs.ENDPOINTS],
    "lwa": [("POST", "/auth/o2/token")],
    "spapi": [r for r in ROUTES if r[1].startswith(spapi.PREFIXES)],
    "mws": [r for r in ROUTES if r[1] == mws.PATH],
    "control": [r for r in ROUTES if r[1].startswith("/_emulator/")],
}
REPR_MARKERS = (
    "Traceback",
    'File "',
    "<class '",
    " object at 0x",
    "Error(",
    "KeyError",
    "TypeError",
    "AttributeError",
    "UnicodeDecodeError",
    "JSONDecodeError",
    "site-packages",
)
UNCHANGING_EXCEPT = ("requests", "rate_buckets")  # logged / counted on every request
FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass
class Request:
    """One HTTP request, as parts a mutation can change."""

    method: str
    path: str
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    body: bytes | None = None

    def send(self, http: httpx.Client) -> httpx.Response:
        query = "&".join(f"{quote(k)}={quote(v)}" for k, v in self.params)
        url = self.path + ("?" + query if query else "")
        return http.request(self.method, url, headers=self.headers, content=self.body)


class _Recorder:
    """Stands in for the World's client: keeps the request World.mws would send."""

    def __init__(self) -> None:
        self.sent: dict[str, Any] = {}

    def post(self, url: str, content: str, headers: dict[str, str]) -> None:
        self.sent = {"method": "POST", "url": url, "content": content, "headers": headers}

    def get(self, url: str) -> None:
        self.sent = {"method": "GET", "url": url, "content": None, "headers": {}}


def valid_request(world: World, ctx: Ctx, method: str, path: str) -> Request:
    """A request of the route the emulator accepts (or would, as far as its shape goes)."""
    url = path.format(**ctx.path_params(path))
    templates = _templates(ctx, method, path)
    body = json.dumps(templates[0]).encode() if templates else None
    json_type = [("content-type", b"application/json")] if body is not None else []
    endpoint = next((e for e in drs.ENDPOINTS if (e.method, e.path) == (method, path)), None)
    if endpoint is not None:
        headers = drs_headers(endpoint.name, ctx.device["access_token"])
        pairs = [(k, v.encode()) for k, v in headers.items()]
        return Request(method, url, headers=pairs + json_type, body=body)
    if path == "/auth/o2/token":
        form = {"grant_type": "refresh_token", "refresh_token": ctx.device["refresh_token"],
                "client_id": ctx.device["client_id"],
                "client_secret": ctx.device["client_secret"]}  # fmt: skip
        content = "&".join(f"{k}={quote(v, safe='')}" for k, v in form.items()).encode()
        form_type = [("content-type", b"application/x-www-form-urlencoded")]
        return Request(method, url, headers=form_type, body=content)
    if path == mws.PATH:
        recorder = _Recorder()
        seller = world.sellers.get(ctx.device["seller_id"]) or world.seller(ctx.device["seller_id"])
        World(world.emulator, recorder).mws(seller, [ctx.order_id], method=method)  # type: ignore[arg-type]
        sent = recorder.sent
        parts = urlsplit(sent["url"])
        params = [tuple(p.split("=", 1)) for p in parts.query.split("&") if p]
        headers = [(k.lower(), v.encode()) for k, v in sent["headers"].items()]
        content = sent["content"].encode() if sent["content"] else None
        return Request(
            method,
            parts.path,
            params=[(unquote(k), unquote(v)) for k, v in params],
            headers=headers,
            body=content,
        )
    params: list[tuple[str, str]] = []
    headers_: list[tuple[str, bytes]] = []
    if path.startswith(spapi.PREFIXES):
        headers_ = [("x-amz-access-token", ctx.seller_token.encode())]
        if path == "/orders/v0/orders":
            params = [("MarketplaceIds", US), ("CreatedAfter", "2020-01-01T00:00:00Z")]
    elif path in ("/_emulator/orders", "/_emulator/slot-status"):
        params = [("device_id", ctx.device["device_id"])]
    return Request(method, url, params=params, headers=headers_ + json_type, body=body)


# -- mutations ------------------------------------------------------------------------

header_text = (
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=40)
    | st.sampled_from(["", "Bearer", "Bearer " + "x" * 3000, "\u00e9\u00e9", "١٢٣"])
).map(str.strip)  # what the HTTP client can send: no control characters, no edge spaces
segment_text = st.text(max_size=30) | st.sampled_from(
    ["..", ".", "%00", "%ff", "x" * 3000, "\u0661", "{slotId}", "\ud7ff", " "]
)
ORIGINS = ["http://[", "http://]", "null", "http://127.0.0.1.evil.example", "http://localhost"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
HUGE = [10**400, -(10**400), 2**64, 1e308, -1e308, 5e-324]
DEEP = "\ue000DEEP\ue000"  # replaced by deep nesting once serialized


def mutate(draw: Callable[..., Any], request: Request) -> str:
    """Apply one drawn mutation to ``request``; return its name (for the failure note)."""
    kind = draw(
        st.sampled_from(
            [
                "method",
                "segment",
                "header_drop",
                "header_dup",
                "header_value",
                "origin",
                "content_type",
                "query",
                "truncate",
                "bitflip",
                "invalid_utf8",
                "json_node",
                "random_body",
            ]  # fmt: skip
        )
    )
    body = request.body or b""
    if kind == "method":
        request.method = draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]))
    elif kind == "segment":
        segments = request.path.split("/")
        index = 1 + _index(draw, len(segments) - 1)
        segments[index] = quote(draw(segment_text), safe="%")
        request.path = "/".join(segments)
    elif kind == "header_drop" and request.headers:
        del request.headers[_index(draw, len(request.headers))]
    elif kind == "header_dup" and request.headers:
        name, value = request.headers[_index(draw, len(request.headers))]
        other = draw(st.sampled_from([value, draw(header_text).encode()]))
        request.headers.append((name, other))
    elif kind == "header_value" and request.headers:
        index = _index(draw, len(request.headers))
        name = request.headers[index][0]
        request.headers[index] = (name, draw(header_text).encode())
    elif kind == "origin":
        request.headers.append(("origin", draw(st.sampled_from(ORIGINS)).encode()))
    elif kind == "content_type":
        media = ["text/plain", "application/json; charset=latin-1", "multipart/form-data",
                 "", "application/x-www-form-urlencoded", "application/json\u00e9"]  # fmt: skip
        request.headers = [h for h in request.headers if h[0] != "content-type"]
        request.headers.append(("content-type", draw(st.sampled_from(media)).encode()))
    elif kind == "query":
        names = [p[0] for p in request.params] + ["x", "MarketplaceIds", "limit", "\u0661"]
        value = draw(st.text(max_size=20) | st.sampled_from(["9" * 5000, "-1", "1e400", "NaN"]))
        request.params.append((draw(st.sampled_from(names)), value))
    elif kind == "truncate" and body:
        request.body = body[: _index(draw, len(body))]
    elif kind == "bitflip" and body:
        index = _index(draw, len(body))
        flipped = body[index] ^ (1 << draw(st.integers(0, 7)))
        request.body = body[:index] + bytes([flipped]) + body[index + 1 :]
    elif kind == "invalid_utf8":
        index = _index(draw, len(body) + 1)
        bad = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]))
        request.body = body[:index] + bad + body[index:]
    elif kind == "json_node":
        request.body = _json_node(draw, body)
    elif kind == "random_body":
        request.body = draw(st.binary(max_size=200))
    return kind


def _index(draw: Callable[..., Any], n: int) -> int:
    """An index below ``n``, drawn the same way whatever ``n`` is: bodies hold fresh ids
    and serials, so their lengths differ between runs of the same example."""
    return int(draw(st.integers(0, 2**16))) % n


def _json_node(draw: Callable[..., Any], body: bytes) -> bytes:
    """The body with one node of its JSON replaced (or a new body if it is not JSON)."""
    new = draw(json_values | st.sampled_from([*HUGE, DEEP]))
    at = int(draw(st.integers(0, 2**16)))
    try:  # a body nested deep by an earlier mutation is too deep for json here
        value = json.loads(body)
        nodes = list(_nodes(value))
        out = json.dumps(_replaced(value, nodes[at % len(nodes)], new) if nodes else new)
    except (ValueError, RecursionError):
        out = json.dumps(new)
    depth = draw(st.sampled_from([64, 1000, 100_000]))
    return out.replace(json.dumps(DEEP), "[" * depth + "]" * depth).encode()


# -- the checks -----------------------------------------------------------------------


def store_snapshot(world: World) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table that a refused request must leave alone."""
    uri = f"file:{world.emulator.db_path}?mode=ro"
    with sqlite3.connect(uri, uri=True) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            t: sorted(db.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr)
            for t in tables
            if t not in UNCHANGING_EXCEPT and not t.startswith("sqlite_")
        }


def check_answer(request: Request, template_path: str, response: httpx.Response) -> None:
    """test_fuzz.py's check (below 500, request id, the service's error shape), for the
    path actually sent; and no Python internals in the body."""
    where = f"{request.method} {request.path[:200]}"
    sent_path = response.request.url.path  # as sent: the client resolves ".."
    shape_path = template_path if _same_service(template_path, sent_path) else sent_path
    _check(request.method, shape_path, {"sent": where}, response)
    text = response.text
    shown = [m for m in REPR_MARKERS if m in text]
    assert not shown, f"{where}: {response.status_code} shows {shown}: {text[:300]}"


def _same_service(a: str, b: str) -> bool:
    def service(path: str) -> str:
        if path == mws.PATH:
            return "mws"
        if path.startswith(spapi.PREFIXES):
            return "spapi"
        return "other"

    return service(a) == service(b)


class Target:
    """The shared emulator and the route contexts (a plain class with a short repr:
    Hypothesis prints the arguments of a failing example, and these hold credentials)."""

    def __init__(self, world: World, route_contexts: Callable[[str], Ctx]) -> None:
        self.world = world
        self.contexts = route_contexts

    def __repr__(self) -> str:
        return "Target(...)"


@pytest.fixture(scope="module")
def target(world: World, request: pytest.FixtureRequest) -> Target:
    return Target(world, request.getfixturevalue("contexts"))  # test_fuzz.py's fixture


@pytest.mark.parametrize("service", list(SERVICES))
@FUZZ
@given(data=st.data())
def test_mutated_requests_never_make_a_500_nor_change_the_store_when_refused(
    target: Target, service: str, data: st.DataObject
) -> None:
    world = target.world
    method, path = data.draw(st.sampled_from(SERVICES[service]), label="route")
    ctx = target.contexts(path)
    http = world.http
    request = valid_request(world, ctx, method, path)
    kinds = [mutate(data.draw, request) for _ in range(data.draw(st.integers(1, 3)))]
    note(f"mutations: {kinds}; request: {request.method} {request.path[:120]}")
    assert http.post("/_emulator/rate-limits", json={"enabled": False}).status_code == 200
    before = store_snapshot(world)
    try:
        response = request.send(http)
        check_answer(request, path, response)
        if 400 <= response.status_code < 500:
            after = store_snapshot(world)
            changed = [t for t in before if before[t] != after.get(t)]
            assert not changed, f"refused ({response.status_code}) but changed {changed}"
    finally:
        http.delete("/_emulator/faults")
        http.post("/_emulator/faults/release")
        http.post("/_emulator/rate-limits", json={"enabled": True})


def test_the_snapshot_sees_what_a_request_changes(target: Target) -> None:
    """The store check above can fail: an accepted control request shows up in it."""
    world = target.world
    before = store_snapshot(world)
    assert world.http.post("/_emulator/customers", json={"name": "Seen"}).status_code == 200
    after = store_snapshot(world)
    assert [t for t in before if before[t] != after[t]] == ["customers"]
