"""Bad input both ways (issue 12, section 5), on the firmware side: whatever bytes a
server answers, whatever a damaged config.json or state.json holds, the firmware
raises one of its own errors (or repairs), never crashes, never orders on garbage."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host_tests.proof.power import FLASH_ROOT, Flash, PowerSwitch
from host_tests.proof.rig import SLOT, no_gc_collect

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


class ReplyServer:
    """Answers every connection with ``self.answer`` (raw bytes), then closes."""

    def __init__(self) -> None:
        self.answer = b""
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    conn.sendall(self.answer)
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def reply_server() -> Iterator[ReplyServer]:
    server = ReplyServer()
    yield server
    server.close()


class _Tokens:
    def token(self) -> str:
        return "x"

    def invalidate(self) -> None:
        return None


def _head(status: int, body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n%s\r\n" % (status, len(body), extra) + body


@FUZZ
@given(answer=st.binary(max_size=300))
def test_any_bytes_from_a_server_give_a_response_or_a_drs_error(reply_server, answer):
    from drsagent import errors, http

    reply_server.answer = answer
    with no_gc_collect():
        try:
            status, headers, body = http.request("GET", reply_server.url + "/x", timeout=2)
        except errors.DrsError:
            return
    assert isinstance(status, int) and isinstance(headers, dict)


def _json_or_none(raw: bytes) -> object:
    """``raw`` parsed as JSON, or None when it is not JSON."""
    try:
        return json.loads(raw)
    except ValueError:
        return None


@FUZZ
@given(
    body=json_values | st.binary(max_size=80),
    status=st.sampled_from([200, 202, 400, 404, 429, 500]),
)
def test_replenish_over_garbage_never_reads_as_an_order(reply_server, body, status):
    from drsagent import errors
    from drsagent.drs import DrsClient

    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    reply_server.answer = _head(status, raw, b"Content-Type: application/json\r\n")
    client = DrsClient(reply_server.url, _Tokens(), timeout=2)
    with no_gc_collect():
        try:
            code, eid = client.replenish(SLOT)
        except errors.DrsError:
            return
    placed = code in ("STANDARD_ORDER_PLACED", "TEST_ORDER_PLACED", "ORDER_INPROGRESS")
    answer = _json_or_none(raw)  # random bytes can happen to be a JSON object too
    assert status < 300 and isinstance(answer, dict), (code, eid)
    assert not placed or answer.get("detailCode") == code
    assert eid is None or (isinstance(eid, str) and eid)


@FUZZ
@given(body=json_values)
def test_order_info_over_garbage(reply_server, body):
    from drsagent import errors
    from drsagent.drs import DrsClient

    reply_server.answer = _head(200, json.dumps(body).encode())
    client = DrsClient(reply_server.url, _Tokens(), timeout=2)
    with no_gc_collect():
        try:
            items = client.order_info("amzn1.dash.v2.o.x")
        except errors.DrsError:
            return
    assert all(isinstance(it, dict) and isinstance(it["status"], str) for it in items)


_GOOD_CONFIG = {
    "device": {"serial": "FUZZ-1"},
    "endpoints": {"drs": "http://127.0.0.1:9", "lwa": "http://127.0.0.1:9/t"},
    "allow_plain_http": True,
    "slots": [{"id": SLOT, "sensor": {"driver": "sim", "empty": 0, "full": 100}}],
}


def _paths(d: object, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(d, dict):
        for k, v in d.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(d, list):
        for i, v in enumerate(d):
            out += _paths(v, prefix + (i,))
    return out


@FUZZ
@given(data=st.data())
def test_mutated_config_is_accepted_or_refused_with_one_config_error(data):
    from drsagent.config import validate_config
    from drsagent.errors import ConfigError

    config = json.loads(json.dumps(_GOOD_CONFIG))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(config)))
        target = config
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = data.draw(json_values)
    try:
        validate_config(config)
    except ConfigError as e:
        assert str(e).startswith("config.json: ")


KNOWN_STATES = (
    "idle",
    "ordering",
    "ordered",
    "inflight",
    "possibly_placed",
    "delivered",
    "cooldown",
)


@settings(FUZZ, max_examples=60)
@given(
    slot=st.dictionaries(
        st.sampled_from(
            [
                "st",
                "eid",
                "since",
                "at",
                "n",
                "iv",
                "os",
                "h",
                "pe",
                "rf",
                "l",
                "r",
                "t",
                "rl",
                "rt",
                "k",
                "u",
                "ua",
            ]
        ),
        json_values,
        max_size=8,
    ),
    raw=st.binary(max_size=40),
)
def test_damaged_state_boots_and_never_orders_on_garbage(slot, raw):
    """A damaged slot state (or unreadable bytes) boots, steps without an exception
    escaping, and a slot whose level is high places no order."""
    from drsagent.agent import Agent
    from drsagent.hal.sim import SimClock
    from drsagent.store import FlashStore

    flash = Flash(PowerSwitch())
    flash.files["config.json"] = json.dumps(_GOOD_CONFIG).encode()
    secrets = {"lwa": {"client_id": "c", "client_secret": "s", "refresh_token": "r"}}
    flash.files["secrets.json"] = json.dumps(secrets).encode()
    flash.files["state.json"] = json.dumps({"v": 1, "boots": 1, "slots": {SLOT: slot}}).encode()
    flash.files["state.bak"] = raw
    calls: list[str] = []

    class Refusing:
        def __getattr__(self, name: str):
            def call(*args: object, **kwargs: object) -> None:
                calls.append(name)
                from drsagent.errors import ServerError

                raise ServerError(name)

            return call

    clock = SimClock(1893456000)
    with flash.mounted(), no_gc_collect():
        agent = Agent.from_flash(
            FlashStore(FLASH_ROOT),
            clock,
            make_sensor=lambda c: lambda: 95.0,  # 95 % full: nothing to order
            make_drs=lambda *args: Refusing(),
            emit=lambda ev, **kw: None,
        )
        for hour in range(3):
            clock.set(1893456000 + hour * 3600)
            agent.step()
        repaired = json.loads(flash.files["state.json"])["slots"][SLOT]
    assert "replenish" not in calls
    # Repaired on load: a known state and numbers where times and counts belong.
    assert repaired["st"] in KNOWN_STATES, repaired
    for key in ("since", "at", "n", "h", "pe", "ua"):
        value = repaired.get(key)
        assert value is None or type(value) in (int, float), (key, repaired)
