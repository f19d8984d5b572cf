"""The emulator's speed, side by side with a bare uvicorn endpoint in the same run.

Every figure is a ratio or a count, measured against a baseline in the same run on the
same machine with the same client, so the numbers travel between machines:

- requests per second of the DRS routes (replenish answering ``ORDER_INPROGRESS``,
  getOrderInfo, deviceStatus) and of an SP-API getOrders page of 100, each against a
  bare uvicorn ASGI endpoint answering a JSON body of the same size; plus the server's
  CPU time per request (both servers run as child processes);
- SQL statements (and transactions) per request, from SQLite's trace callback;
- the cost of replenish, getOrderInfo, a clock move and a getOrders page with 1 000 vs
  20 000 orders in the database (the ratio should stay near 1);
- the fleet's daily-report storm: N devices send deviceStatus at the same moment, each
  on its own connection with the firmware's 10 s timeout (p50/p99 latency, timeouts);
- with ``--instructions`` (and in ``make bench`` when valgrind is installed): user-space
  instructions per request of the whole server process under cachegrind, each route vs
  the bare endpoint with a body of the same size (:func:`instructions`). Unlike
  requests per second on a shared machine, these repeat to about 1 %.

Loopback only, bounded request counts. ``python -m drsctl.bench_emulator`` prints the
results as JSON; ``make bench`` runs it and commits them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

# A fixed virtual start (2030-01-01), so that seeded orders have a past and a future.
_START = 1893456000
_DRS = "com.amazon.dash.replenishment."
_VERSIONS = {
    "replenish": ("DrsReplenishInput@1.0", "DrsReplenishResult@1.0"),
    "getOrderInfo": ("DrsOrderInfoInput@1.0", "DrsOrderInfoResult@1.0"),
    "deviceStatus": ("DrsDeviceStatusInput@1.0", "DrsDeviceStatusResult@1.0"),
}
_MODEL = "bench-x1"
_MARKETPLACE = "ATVPDKIKX0DER"
_TIMEOUT_S = 10.0  # the firmware's http_timeout_s
_STARTUP_S = 20.0
_ROUNDS = 3


# -- servers in child processes ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux ``/proc``; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class ServerProcess:
    """A server in a child process on a loopback port."""

    proc: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def cpu(self) -> float:
        """CPU seconds the server has used so far."""
        return _cpu_seconds(self.proc.pid)


@contextlib.contextmanager
def _server(
    cmd: list[str], port: int, startup_s: float = _STARTUP_S, env: dict[str, str] | None = None
) -> Iterator[ServerProcess]:
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + startup_s
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {' '.join(cmd[:3])}")
            time.sleep(0.02)
        yield ServerProcess(proc, port)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=startup_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _emulator_cmd(db: Path, port: int) -> list[str]:
    drsctl = str(Path(sys.executable).with_name("drsctl"))
    return [sys.executable, drsctl, "emulator", "--port", str(port), "--db", str(db)]


def _bare_cmd(port: int) -> list[str]:
    return [sys.executable, "-m", "drsctl.bench_emulator", "--serve-bare", str(port)]


def emulator_process(db: Path) -> contextlib.AbstractContextManager[ServerProcess]:
    """``drsctl emulator`` on ``db`` (plain HTTP) in a child process."""
    port = _free_port()
    return _server(_emulator_cmd(db, port), port)


def bare_process() -> contextlib.AbstractContextManager[ServerProcess]:
    """The baseline: uvicorn serving :func:`bare_app` with the emulator's settings."""
    port = _free_port()
    return _server(_bare_cmd(port), port)


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Bare ASGI: read the body, answer a JSON body of ``/<bytes>`` bytes (default 64)."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    digits = scope["path"].strip("/")
    size = max(int(digits) if digits.isdigit() else 64, 12)
    body = b'{"pad":"' + b"x" * (size - 10) + b'"}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _serve_bare(port: int) -> None:
    import uvicorn

    uvicorn.run(bare_app, host="127.0.0.1", port=port, log_config=None, log_level="warning",
                access_log=False, lifespan="off")  # fmt: skip


# -- a small keep-alive HTTP/1.1 load client -----------------------------------------------


def http_request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    """Encode one HTTP/1.1 request (keep-alive unless the headers say otherwise)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


@dataclass
class Load:
    """The outcome of one load run."""

    requests: int
    seconds: float
    server_cpu_s: float
    statuses: dict[int, int]
    body_bytes: int

    @property
    def per_second(self) -> float:
        """Requests per wall second."""
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_us_per_request(self) -> float:
        """Server CPU microseconds per request."""
        return self.server_cpu_s / self.requests * 1e6 if self.requests else 0.0


def load(server: ServerProcess, request: bytes, total: int, connections: int = 4) -> Load:
    """Send ``request`` ``total`` times over ``connections`` keep-alive connections."""
    statuses: Counter[int] = Counter()
    sizes: list[int] = []
    left = [total]

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            while left[0] > 0:
                left[0] -= 1
                writer.write(request)
                status, body = await _read_response(reader)
                statuses[status] += 1
                sizes.append(len(body))
        finally:
            writer.close()

    async def run() -> None:
        await asyncio.gather(*(worker() for _ in range(connections)))

    cpu0 = server.cpu()
    t0 = time.perf_counter()
    asyncio.run(run())
    seconds = time.perf_counter() - t0
    return Load(total, seconds, server.cpu() - cpu0, dict(statuses), max(sizes, default=0))


# -- setting up an emulator to measure -----------------------------------------------------


@dataclass
class Fixture:
    """A provisioned device (with a live token and one open order) and a seller token."""

    device_id: str
    slot_id: str
    access_token: str
    event_instance_id: str
    seller_token: str


def _drs_headers(route: str, token: str) -> dict[str, str]:
    version, accept = _VERSIONS[route]
    return {
        "Authorization": f"Bearer {token}",
        "x-amzn-type-version": _DRS + version,
        "x-amzn-accept-type": _DRS + accept,
        "Content-Type": "application/json",
    }


def _token(http: httpx.Client, form: dict[str, str]) -> str:
    answer = http.post("/auth/o2/token", data={"grant_type": "refresh_token", **form})
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def prepare(url: str) -> Fixture:
    """Provision a device and a seller, get tokens, place one order (over HTTP)."""
    with httpx.Client(base_url=url, timeout=30) as http:
        http.post("/_emulator/clock", json={"set": _START}).raise_for_status()
        http.post("/_emulator/rate-limits", json={"enabled": False}).raise_for_status()
        creds = http.post(
            "/_emulator/provision",
            json={"serial": "BENCH-0", "model": _MODEL, "slots": [{"id": "slot-a"}]},
        ).json()
        token = _token(http, {k: creds[k] for k in ("client_id", "client_secret", "refresh_token")})
        placed = http.post("/replenish/slot-a", headers=_drs_headers("replenish", token)).json()
        seller = http.post("/_emulator/sellers", json={"name": _MODEL.split("-")[0]}).json()
        seller_token = _token(http, seller["lwa"])
    return Fixture(creds["device_id"], "slot-a", token, placed["eventInstanceId"], seller_token)


def route_requests(fixture: Fixture) -> dict[str, bytes]:
    """The measured requests, keyed by name."""
    status_body = json.dumps({"mostRecentlyActiveDate": "2030-01-01T00:00:00Z"}).encode()
    orders_query = f"MarketplaceIds={_MARKETPLACE}&CreatedAfter=2000-01-01T00:00:00Z"
    return {
        "replenish_inprogress": http_request(
            "POST", f"/replenish/{fixture.slot_id}", _drs_headers("replenish", fixture.access_token)
        ),
        "getOrderInfo": http_request(
            "GET",
            f"/getOrderInfo/{fixture.event_instance_id}",
            _drs_headers("getOrderInfo", fixture.access_token),
        ),
        "deviceStatus": http_request(
            "POST",
            "/deviceStatus",
            _drs_headers("deviceStatus", fixture.access_token),
            status_body,
        ),
        "getOrders_page100": http_request(
            "GET", f"/orders/v0/orders?{orders_query}", {"x-amz-access-token": fixture.seller_token}
        ),
        "clock_move": http_request(
            "POST",
            "/_emulator/clock",
            {"Content-Type": "application/json"},
            json.dumps({"advance": 1}).encode(),
        ),
    }


def seed_orders(db: Path, count: int, open_every: int = 20) -> int:
    """Add ``count`` orders of the fixture's seller, cloned in SQL from its first order.

    They belong to 500 other devices, are older than the fixture's order, and one in
    ``open_every`` is still open (payment and delivery due well after the bench's clock
    moves), as in a fleet's database. Returns the number of orders now stored.
    """
    conn = sqlite3.connect(db, timeout=30)
    try:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(orders)")]
        start = conn.execute("SELECT COALESCE(MAX(order_id), 0) FROM orders").fetchone()[0]
        overrides = {
            "amazon_order_id": "printf('900-%07d-%07d', (?1 + n) / 1000000, (?1 + n) % 1000000)",
            "event_instance_id": "'amzn1.dash.v2.o.seed-' || (?1 + n)",
            "order_item_id": "printf('%014d', ?1 + n)",
            "device_id": "'seed-device-' || (n % 500)",
            "created_at": "created_at - (?1 + n) * 600",
            "updated_at": "created_at - (?1 + n) * 600",
            "authorize_due_at": f"CASE WHEN n % {open_every} THEN created_at - (?1 + n) * 600 "
            "ELSE created_at + 864000 END",
            "expected_delivery": f"CASE WHEN n % {open_every} THEN created_at - (?1 + n) * 600 "
            "ELSE created_at + 864000 END",
            "status": f"CASE WHEN n % {open_every} THEN 'Shipped' ELSE 'Pending' END",
            "delivered_at": f"CASE WHEN n % {open_every} THEN created_at - (?1 + n) * 600 END",
        }
        cols = [c for c in columns if c != "order_id"]
        select = ", ".join(overrides.get(c, c) for c in cols)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?2) "
            f"INSERT INTO orders ({', '.join(cols)}) SELECT {select} FROM seq, "
            "(SELECT * FROM orders ORDER BY order_id LIMIT 1)",
            (start, count),
        )
        conn.execute("COMMIT")
        return int(conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0])
    finally:
        conn.close()


def seed_device_tokens(db: Path, fixture: Fixture, count: int) -> list[str]:
    """Register ``count`` more devices (cloned from the fixture's) with live access tokens.

    Returns their tokens; only their digests are stored, as the emulator does.
    """
    from drsctl.emulator import ids

    tokens = [ids.access_token() for _ in range(count)]
    conn = sqlite3.connect(db, timeout=30)
    try:
        device_cols = [r[1] for r in conn.execute("PRAGMA table_info(devices)")]
        token_cols = [r[1] for r in conn.execute("PRAGMA table_info(tokens)") if r[1] != "token_id"]
        device = dict(
            zip(
                device_cols,
                conn.execute(
                    "SELECT * FROM devices WHERE device_id = ?", (fixture.device_id,)
                ).fetchone(),
                strict=True,
            )
        )
        template = dict(
            zip(
                token_cols,
                conn.execute(
                    f"SELECT {', '.join(token_cols)} FROM tokens WHERE device_id = ? "
                    "AND kind = 'access' ORDER BY token_id DESC LIMIT 1",
                    (fixture.device_id,),
                ).fetchone(),
                strict=True,
            )
        )
        devices, rows = [], []
        for n, token in enumerate(tokens):
            device_id = f"storm-device-{n}"
            devices.append({**device, "device_id": device_id, "serial": f"STORM-{n}"})
            rows.append({**template, "device_id": device_id, "token_hash": ids.digest(token)})
        conn.execute("BEGIN IMMEDIATE")
        for table, records in (("devices", devices), ("tokens", rows)):
            names = list(records[0])
            conn.executemany(
                f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                [tuple(r[k] for k in names) for r in records],
            )
        conn.execute("COMMIT")
    finally:
        conn.close()
    return tokens


# -- the measurements ----------------------------------------------------------------------


def _bare_request(body_bytes: int, method: str = "GET", body: bytes = b"") -> bytes:
    headers = {"Content-Type": "application/json"} if body else {}
    return http_request(method, f"/{body_bytes}", headers, body)


def throughput(db: Path, requests: int, connections: int) -> dict[str, Any]:
    """Requests/s and server CPU per request: each route vs the bare endpoint, same size."""
    results: dict[str, Any] = {}
    with emulator_process(db) as emulator, bare_process() as bare:
        fixture = prepare(emulator.url)
        seed_orders(db, 400)  # a getOrders page of 100 needs orders; no more than that
        measured = route_requests(fixture)
        for name in ("replenish_inprogress", "getOrderInfo", "deviceStatus", "getOrders_page100"):
            request = measured[name]
            count = requests if name != "getOrders_page100" else max(requests // 10, 20)
            method = request.split(b" ", 1)[0]
            body = request.split(b"\r\n\r\n", 1)[1]
            load(emulator, request, 20, connections)  # warm up (imports, caches)
            size = load(emulator, request, 1, 1).body_bytes
            bare_req = _bare_request(size, method.decode(), body)
            load(bare, bare_req, 20, connections)
            # Alternate rounds (other load on the machine hits both alike); medians.
            emu_runs, bare_runs = [], []
            for _ in range(_ROUNDS):
                emu_runs.append(load(emulator, request, count, connections))
                bare_runs.append(load(bare, bare_req, count, connections))
            emu = sorted(emu_runs, key=lambda r: r.per_second)[_ROUNDS // 2]
            base = sorted(bare_runs, key=lambda r: r.per_second)[_ROUNDS // 2]
            results[name] = {
                "requests": count,
                "statuses": emu.statuses,
                "body_bytes": emu.body_bytes,
                "ratio_to_bare": round(emu.per_second / base.per_second, 3),
                "server_cpu_us": round(emu.cpu_us_per_request),
                "bare_server_cpu_us": round(base.cpu_us_per_request),
            }
            print(f"  {name}: {results[name]['ratio_to_bare']}x bare", file=sys.stderr)
    return results


def sql_per_request(db: Path) -> dict[str, dict[str, int]]:
    """SQL statements and transactions per request (in-process emulator, trace callback).

    Each request is sent twice and the second is counted: the steady state, once a
    getOrders page's orders have their JSON stored (the first page renders and stores it).
    """
    from drsctl.emulator.server import EmulatorThread

    counts: dict[str, dict[str, int]] = {}
    with EmulatorThread(db) as emulator:
        fixture = prepare(emulator.url)
        seed_orders(db, 200)
        statements: list[str] = []
        for conn in _connections(emulator.store):
            conn.set_trace_callback(statements.append)
        with httpx.Client(base_url=emulator.url, timeout=30) as http:
            for name, raw in route_requests(fixture).items():
                head, _, body = raw.partition(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                method, path, _ = lines[0].split(" ")
                headers = dict(line.split(": ", 1) for line in lines[1:])
                headers.pop("Host", None)
                headers.pop("Content-Length", None)
                http.request(method, path, headers=headers, content=body)
                statements.clear()
                http.request(method, path, headers=headers, content=body)
                counts[name] = {
                    "statements": len(statements),
                    "transactions": sum(s.strip().upper().startswith("BEGIN") for s in statements),
                }
        for conn in _connections(emulator.store):
            conn.set_trace_callback(None)
    return counts


def _connections(store: Any) -> list[sqlite3.Connection]:
    """The SQLite connections a store holds (whatever it calls them)."""
    found = [v for v in vars(store).values() if isinstance(v, sqlite3.Connection)]
    for value in vars(store).values():
        if isinstance(value, (list, tuple, set)):
            found += [v for v in value if isinstance(v, sqlite3.Connection)]
    return found


def _mean_ms(server: ServerProcess, request: bytes, count: int) -> float:
    """Mean latency of ``request`` in ms, one connection (median of a few rounds)."""
    load(server, request, 5, 1)
    rounds = sorted(load(server, request, count, 1).seconds for _ in range(_ROUNDS))
    return rounds[_ROUNDS // 2] / count * 1000


def scale(db: Path, small: int, large: int, count: int) -> dict[str, Any]:
    """Each operation's mean latency with ``small`` and with ``large`` orders stored."""
    results: dict[str, Any] = {}
    with emulator_process(db) as emulator:
        fixture = prepare(emulator.url)
        measured = route_requests(fixture)
        names = ("replenish_inprogress", "getOrderInfo", "clock_move", "getOrders_page100")
        timings: dict[str, list[float]] = {name: [] for name in names}
        stored = []
        for target in (small, large):
            have = sqlite3.connect(db).execute("SELECT COUNT(*) FROM orders").fetchone()[0]
            stored.append(seed_orders(db, target - have))
            for name in names:
                timings[name].append(_mean_ms(emulator, measured[name], count))
        results["orders"] = stored
        for name, (low, high) in timings.items():
            results[name] = {
                "ms_small": round(low, 3),
                "ms_large": round(high, 3),
                "ratio": round(high / low, 2) if low else None,
            }
            print(f"  {name}: {results[name]['ratio']}x at {large} orders", file=sys.stderr)
    return results


def storm(db: Path, devices: int) -> dict[str, Any]:
    """``devices`` deviceStatus calls at the same moment, one connection each."""
    with emulator_process(db) as emulator:
        fixture = prepare(emulator.url)
        tokens = seed_device_tokens(db, fixture, devices)
        body = json.dumps({"mostRecentlyActiveDate": "2030-01-01T00:00:00Z"}).encode()
        requests = [
            http_request(
                "POST",
                "/deviceStatus",
                {**_drs_headers("deviceStatus", token), "Connection": "close"},
                body,
            )
            for token in tokens
        ]
        latencies: list[float] = []
        outcomes: Counter[str] = Counter()

        async def one(request: bytes) -> None:
            t0 = time.perf_counter()
            try:
                async with asyncio.timeout(_TIMEOUT_S):
                    reader, writer = await asyncio.open_connection("127.0.0.1", emulator.port)
                    writer.write(request)
                    status, _ = await _read_response(reader)
                    writer.close()
                outcomes[str(status)] += 1
                latencies.append(time.perf_counter() - t0)
            except TimeoutError:
                outcomes["timeout"] += 1
            except (OSError, asyncio.IncompleteReadError) as err:
                outcomes[type(err).__name__] += 1

        async def run() -> None:
            await asyncio.gather(*(one(r) for r in requests))

        cpu0 = emulator.cpu()
        t0 = time.perf_counter()
        asyncio.run(run())
        seconds = time.perf_counter() - t0
        cpu = emulator.cpu() - cpu0
    latencies.sort()
    return {
        "devices": devices,
        "outcomes": dict(outcomes),
        "timeouts": outcomes["timeout"],
        "p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "p99_s": round(latencies[int(len(latencies) * 0.99) - 1], 3) if latencies else None,
        "max_s": round(latencies[-1], 3) if latencies else None,
        "drain_s": round(seconds, 2),
        "server_cpu_us_per_request": round(cpu / devices * 1e6),
    }


# -- instructions per request under cachegrind ---------------------------------------------

INSTRUCTION_COUNTS = {
    "replenish_inprogress": (100, 400),
    "getOrderInfo": (100, 400),
    "deviceStatus": (100, 400),
    "getOrders_page100": (5, 20),
}
"""Each measured route's request counts (low, high) in :func:`instructions`."""

_CACHEGRIND_S = 600.0  # start-up and shut-down under valgrind are some 50 times slower


def cachegrind_available() -> bool:
    """Whether valgrind (for :func:`instructions`) is on ``PATH``."""
    return shutil.which("valgrind") is not None


def _cachegrind_total(
    cmd: list[str], port: int, out: Path, requests: list[tuple[bytes, int]], connections: int
) -> int:
    """Instructions a server runs from start to exit, serving each (request, count) in turn."""
    valgrind = ["valgrind", "--tool=cachegrind", "--cache-sim=no", f"--cachegrind-out-file={out}"]
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dict layouts in every run
    with _server(valgrind + cmd, port, _CACHEGRIND_S, env) as server:
        for request, count in requests:
            load(server, request, count, connections)
    for line in out.read_text().splitlines() if out.exists() else ():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise RuntimeError(f"no cachegrind summary from {' '.join(cmd[:3])}")


def instructions(root: Path, connections: int = 4) -> dict[str, Any]:
    """User-space instructions per request of each route and of the bare endpoint.

    Each server runs under ``valgrind --tool=cachegrind`` once with every route at its
    low count (:data:`INSTRUCTION_COUNTS`) and once per route with that route at its high
    count; a route's instructions per request are the two runs' difference over the
    difference in requests, so start-up, warm-up and shut-down cancel out. The bare
    endpoint answers a body of the route's size to a request of the same method and
    body. Every emulator run starts from a copy of one prepared database.
    """
    template = root / "instructions.sqlite3"
    with emulator_process(template) as emulator:
        fixture = prepare(emulator.url)
        seed_orders(template, 400)  # a getOrders page of 100 needs orders
        measured = route_requests(fixture)
        bare = {}
        for name in INSTRUCTION_COUNTS:
            method, rest = measured[name].split(b" ", 1)
            size = load(emulator, measured[name], 1, 1).body_bytes
            bare[name] = _bare_request(size, method.decode(), rest.split(b"\r\n\r\n", 1)[1])
    per_request: dict[str, dict[str, float]] = {"emulator": {}, "bare": {}}
    for server, requests in (("emulator", measured), ("bare", bare)):
        totals = {}
        for high in (None, *INSTRUCTION_COUNTS):
            port = _free_port()
            if server == "emulator":
                db = root / f"instructions-{high}.sqlite3"
                with contextlib.closing(sqlite3.connect(template)) as src:
                    with contextlib.closing(sqlite3.connect(db)) as dst:
                        src.backup(dst)
                cmd = _emulator_cmd(db, port)
            else:
                cmd = _bare_cmd(port)
            plan = [(requests[n], counts[n == high]) for n, counts in INSTRUCTION_COUNTS.items()]
            out = root / f"cachegrind-{server}-{high}.out"
            totals[high] = _cachegrind_total(cmd, port, out, plan, connections)
            print(f"  {server}: {high or 'every route'} at its {'high' if high else 'low'} count",
                  file=sys.stderr)  # fmt: skip
        for name, (low, high_count) in INSTRUCTION_COUNTS.items():
            per_request[server][name] = (totals[name] - totals[None]) / (high_count - low)
    results: dict[str, Any] = {}
    for name in INSTRUCTION_COUNTS:
        route, base = per_request["emulator"][name], per_request["bare"][name]
        results[name] = {
            "instructions": round(route),
            "bare_instructions": round(base),
            "ratio_to_bare": round(base / route, 3),
        }
        print(f"  {name}: {round(route / 1000)}k instructions, {results[name]['ratio_to_bare']}x "
              f"bare ({round(base / 1000)}k)", file=sys.stderr)  # fmt: skip
    return results


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement, each on a fresh database."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="drsctl-bench-") as tmp:
        root = Path(tmp)
        print("emulator vs bare uvicorn", file=sys.stderr)
        results["throughput"] = throughput(root / "throughput.sqlite3", args.requests, 4)
        print("SQL per request", file=sys.stderr)
        results["sql_per_request"] = sql_per_request(root / "sql.sqlite3")
        if cachegrind_available():
            print("instructions per request (cachegrind)", file=sys.stderr)
            results["instructions"] = instructions(root)
        else:
            print("valgrind is not on PATH: no instructions per request", file=sys.stderr)
        print(f"cost at {args.small} vs {args.large} orders", file=sys.stderr)
        results["scale"] = scale(
            root / "scale.sqlite3", args.small, args.large, args.scale_requests
        )
        results["storm"] = []
        for devices in args.storm:
            print(f"report storm: {devices} devices at once", file=sys.stderr)
            results["storm"].append(storm(root / f"storm{devices}.sqlite3", devices))
    return results


def parser() -> argparse.ArgumentParser:
    """Command-line options (small defaults keep ``make bench`` to a few minutes)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=2000, help="requests per DRS route")
    p.add_argument("--small", type=int, default=1000, help="orders in the small database")
    p.add_argument("--large", type=int, default=20000, help="orders in the large database")
    p.add_argument("--scale-requests", type=int, default=100, help="requests per scale figure")
    p.add_argument("--storm", type=int, nargs="*", default=[1000], help="devices per storm")
    p.add_argument(
        "--instructions",
        action="store_true",
        help="only instructions per request under cachegrind, each route vs bare uvicorn",
    )
    p.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the emulator benchmarks and print them as JSON."""
    args = parser().parse_args(argv)
    if args.serve_bare:
        _serve_bare(args.serve_bare)
        return 0
    if args.instructions:
        if not cachegrind_available():
            print("valgrind is not on PATH: no instruction counts", file=sys.stderr)
            return 1
        with tempfile.TemporaryDirectory(prefix="drsctl-bench-") as tmp:
            print(json.dumps(instructions(Path(tmp)), indent=2))
        return 0
    print(json.dumps(run_all(args), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
