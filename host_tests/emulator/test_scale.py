"""What keeps the emulator fast as it fills up, and that it answers as before.

One transaction per device request, indexed lookups, clock moves that touch only the
orders due, keyset NextTokens, retention. Speed itself is measured in ``make bench``
(``drsctl.bench_emulator``), not here.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from drsctl.emulator import orders
from drsctl.emulator.server import EmulatorThread
from drsctl.emulator.store import Client, Customer, Report, Store
from drsctl.emulator.store import Device as DeviceRecord

from host_tests.emulator.conftest import Device

DAY = 86400


@pytest.fixture
def statements(emulator: EmulatorThread) -> Iterator[list[str]]:
    """Every SQL statement the emulator runs from here on."""
    seen: list[str] = []
    conn = emulator.store._conn
    conn.set_trace_callback(seen.append)
    yield seen
    conn.set_trace_callback(None)


def test_a_device_request_is_one_transaction_with_its_log_entry(
    device: Device, http: httpx.Client, statements: list[str]
) -> None:
    status = {"mostRecentlyActiveDate": "2030-01-01T00:00:00Z"}
    report = lambda: device.call("deviceStatus", "/deviceStatus", json=status)  # noqa: E731
    for call in (device.replenish, device.replenish, report):
        statements.clear()
        answer = call()
        assert answer.status_code == 200, answer.text
        begins = [s for s in statements if s.startswith("BEGIN")]
        assert begins == ["BEGIN IMMEDIATE"], statements
        assert statements[-1] == "COMMIT"
        assert any(s.startswith("INSERT INTO requests") for s in statements)
        assert not any(s.startswith("UPDATE requests") for s in statements)
    log = http.get("/_emulator/requests").json()["requests"]
    assert [(r["route"], r["status"], r["device_id"]) for r in log[-3:]] == [
        ("replenish", 200, device.device_id),
        ("replenish", 200, device.device_id),
        ("deviceStatus", 200, device.device_id),
    ]


def test_a_failing_handler_rolls_back_its_own_writes_but_is_logged(
    device: Device, http: httpx.Client
) -> None:
    bad = device.call("slotStatus", "/slotStatus/toner-black", json={"remainingQuantityInUnit": 1})
    assert bad.status_code == 400
    log = http.get("/_emulator/requests").json()["requests"]
    assert (log[-1]["route"], log[-1]["status"]) == ("slotStatus", 400)
    status = http.get("/_emulator/slot-status", params={"device_id": device.device_id}).json()
    assert status["slots"] == {}


def _plan(emulator: EmulatorThread, sql: str, *args: Any) -> str:
    rows = emulator.store._conn.execute("EXPLAIN QUERY PLAN " + sql, args).fetchall()
    return " | ".join(str(row[-1]) for row in rows)


@pytest.mark.parametrize(
    "sql",
    [
        # replenish: the slot's open order
        "SELECT * FROM orders WHERE device_id = ? AND slot_id = ? AND delivered_at IS NULL "
        "AND canceled_at IS NULL ORDER BY order_id",
        # DRS replenish: the slot and its open order's id, in one query
        "SELECT s.subscribed, (SELECT o.event_instance_id FROM orders o WHERE o.device_id = "
        "s.device_id AND o.slot_id = s.slot_id AND o.delivered_at IS NULL AND o.canceled_at IS "
        "NULL ORDER BY o.order_id LIMIT 1) FROM slots s WHERE s.device_id = ? AND s.slot_id = ?",
        # a clock move: the orders due
        "UPDATE orders SET status = 'Unshipped' WHERE status = 'Pending' AND canceled_at IS NULL "
        "AND authorize_due_at <= ?",
        "UPDATE orders SET status = 'Shipped' WHERE status IN ('Unshipped', 'PartiallyShipped') "
        "AND delivered_at IS NULL AND canceled_at IS NULL AND expected_delivery <= ?",
        # the simulator's look for news
        "SELECT * FROM orders WHERE updated_at >= ? ORDER BY updated_at, order_id",
    ],
)
def test_hot_queries_search_an_index(emulator: EmulatorThread, sql: str) -> None:
    args = [1] * sql.count("?")
    plan = _plan(emulator, sql, *args)
    assert "USING" in plan and "SCAN orders" not in plan and "SCAN requests" not in plan, plan


def _wal_frames(db_path: Path, request: Callable[[], httpx.Response]) -> int:
    """Pages ``request`` wrote to the WAL: its frames, from an emptied WAL file."""
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    wal = Path(f"{db_path}-wal")
    assert wal.stat().st_size == 0
    assert request().status_code == 200
    header, frame_header = 32, 24
    return (wal.stat().st_size - header) // (frame_header + page)


def test_a_device_request_writes_only_the_pages_of_its_rows(
    emulator: EmulatorThread, device: Device
) -> None:
    status = {"mostRecentlyActiveDate": "2030-01-01T00:00:00Z"}
    assert device.replenish().status_code == 200
    # the log entry's page; no index of the request log
    assert _wal_frames(emulator.db_path, device.replenish) == 1
    # and the report's page and that of its (device, kind, slot) index entry
    report = lambda: device.call("deviceStatus", "/deviceStatus", json=status)  # noqa: E731
    assert _wal_frames(emulator.db_path, report) == 3


def _purge_steps(path: Path, kept: int) -> tuple[int, list[tuple[Any, ...]]]:
    """SQLite VM steps of a purge of 20 log entries and reports behind ``kept`` newer ones.

    Returns the steps and the reports left (device, kind, slot, received_at).
    """
    store = Store(path)
    steps = [0]
    try:
        with store.tx() as tx:
            t0 = tx.now()
            tx.insert_customer(Customer("C", "Ann", "ann@example.com", t0))
            tx.insert_client(Client("cl", "h", "https://example.com", t0))
            tx.insert_device(DeviceRecord("D", "C", "cl", "S", "m", "s1", False, t0), [])

            def add(t: int, kind: str, slot_id: str | None) -> None:
                tx.log_request(t, "POST", "/x", kind, 200, "D")
                tx.insert_report(Report("D", kind, slot_id, "{}", t))

            for _ in range(10):
                add(t0, "deviceStatus", None)
                add(t0, "slotStatus", "a")
            add(t0, "slotStatus", "b")  # old, but the latest of slot b: kept
            for _ in range(kept):
                add(t0 + DAY, "deviceStatus", None)
            add(t0 + DAY, "slotStatus", "a")

            def step() -> int:
                steps[0] += 1
                return 0

            store._conn.set_progress_handler(step, 1)
            assert tx.purge_before(t0 + 1) == 21 + 20  # the log entries and reports at t0
            store._conn.set_progress_handler(None, 1)
            left = store._conn.execute(
                "SELECT device_id, kind, slot_id, received_at - ? FROM reports "
                "WHERE received_at < ? OR kind = 'slotStatus' ORDER BY id",
                (t0, t0 + DAY),
            ).fetchall()
    finally:
        store.close()
    return steps[0], [tuple(row) for row in left]


def test_the_retention_purge_reads_only_what_it_deletes(tmp_path: Path) -> None:
    few, left = _purge_steps(tmp_path / "few.sqlite3", 10)
    many, left_many = _purge_steps(tmp_path / "many.sqlite3", 2000)
    assert left == left_many == [("D", "slotStatus", "b", 0), ("D", "slotStatus", "a", DAY)]
    assert many <= few * 1.2, (few, many)


def _place(provision: Callable[..., Device], serials: list[str]) -> list[Device]:
    """Devices with these serials, each with one order placed."""
    devices = [provision(serial=serial) for serial in serials]
    for d in devices:
        assert d.replenish().status_code == 200
    return devices


def test_clock_moves_touch_only_the_orders_due(
    emulator: EmulatorThread, provision: Callable[..., Device], http: httpx.Client, advance
) -> None:
    http.post("/_emulator/settings", json={"authorize_after_s": 600, "delivery_days": 2})
    first = _place(provision, ["A-1", "A-2", "A-3"])
    advance(DAY)
    late = _place(provision, ["B-1", "B-2"])
    cancel = http.post(f"/_emulator/orders/{late[1].orders()[0]['event_instance_id']}/cancel")
    assert cancel.status_code == 200
    with emulator.store.tx() as tx:
        now = tx.now()
        assert orders.advance_to(tx, now) == 0  # nothing due: nothing visited
        assert orders.advance_to(tx, now + 600) == 1  # one payment (the other was canceled)
        assert orders.advance_to(tx, now + DAY) == 3 * 2  # ship + deliver the first three
    by_device = {d.device_id: d.orders()[0] for d in first + late}
    for d in first:
        o = by_device[d.device_id]
        assert o["status"] == "Shipped" and o["drs_status"] == "Closed"
        assert o["shipped_at"] == o["delivered_at"] == o["expected_delivery"] == o["updated_at"]
        assert o["authorized_at"] == o["authorize_due_at"]
    paid = by_device[late[0].device_id]
    assert (paid["status"], paid["drs_status"]) == ("Unshipped", "Authorized")
    assert paid["authorized_at"] == paid["updated_at"] == paid["authorize_due_at"]
    canceled = by_device[late[1].device_id]
    assert canceled["status"] == "Canceled" and canceled["authorized_at"] is None


def test_orders_updated_since(provision: Callable[..., Device], http: httpx.Client, advance):
    http.post("/_emulator/settings", json={"authorize_after_s": 600})
    device = _place(provision, ["C-1"])[0]
    placed = device.orders()[0]["created_at"]
    after = advance(DAY)  # paid at placed + 600, shipped and delivered at +2 days
    changed = http.get("/_emulator/orders", params={"updated_since": placed + 1}).json()
    assert [o["status"] for o in changed["orders"]] == ["Unshipped"]
    assert http.get("/_emulator/orders", params={"updated_since": after}).json() == {"orders": []}
    bad = http.get("/_emulator/orders", params={"updated_since": "-1"})
    assert bad.status_code == 400 and "updated_since" in bad.json()["message"]


def test_retention_purges_old_log_entries_reports_and_tokens(
    emulator: EmulatorThread, device: Device, http: httpx.Client, advance
) -> None:
    http.post("/_emulator/settings", json={"retention_days": 2})
    status = {"mostRecentlyActiveDate": "2030-01-01T00:00:00Z"}
    assert device.call("deviceStatus", "/deviceStatus", json=status).status_code == 200
    assert device.replenish().status_code == 200
    advance(3 * DAY)  # the old access token expired three days ago
    device.renew()
    assert device.call("deviceStatus", "/deviceStatus", json=status).status_code == 200
    advance(DAY)  # into a new day: the purge runs
    conn = sqlite3.connect(emulator.db_path)
    now = http.get("/_emulator/clock").json()["now"]
    assert conn.execute("SELECT MIN(t) FROM requests").fetchone()[0] >= now - 2 * DAY
    assert conn.execute(
        "SELECT COUNT(*) FROM tokens WHERE kind = 'access' AND expires_at < ?", (now - 2 * DAY,)
    ).fetchone() == (0,)
    # the device's latest report, its order and its credentials stay
    latest = http.get("/_emulator/slot-status", params={"device_id": device.device_id}).json()
    assert latest["device_status"]["body"] == status
    assert len(device.orders()) == 1
    device.renew()


def test_retention_zero_keeps_everything(device: Device, http: httpx.Client, advance) -> None:
    http.post("/_emulator/settings", json={"retention_days": 0})
    assert device.replenish().status_code == 200
    advance(400 * DAY)
    assert len(http.get("/_emulator/requests").json()["requests"]) >= 2
