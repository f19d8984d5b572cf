"""The device's setup console refuses bad input clearly and keeps its files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from drsctl.board import improv
from drsctl.board.improv import ImprovError, ImprovType, Rpc
from drsctl.board.provision import ProvisionError, SetupConsole
from drsctl.board.serial_link import SerialLink
from drsctl.board.virtual_board import VirtualBoard

from host_tests.board.boardhelpers import EMPTY_RAW, FULL_RAW, WIFI, device_config, write_bench


def _improv_error(link: SerialLink) -> int:
    frame = link.wait_for(
        lambda f: f.header == improv.IMPROV and f.kind == ImprovType.ERROR_STATE, 15, "error"
    )
    return frame.data[0]


def _configured(console: SetupConsole, board: VirtualBoard) -> bytes:
    console.request("config", config=device_config("http://127.0.0.1:9"))
    return (board.flash / "config.json").read_bytes()


def _logged(link: SerialLink, text: str) -> bool:
    link.poll()
    return any(text in line for line in link.log_lines)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("ssid", "password", "why"),
    [(b"s" * 33, b"pw", "SSID over 32"), (b"home", b"p" * 64, "password over 63")],
)
def test_wifi_over_the_limits_is_refused_by_the_device(
    board: VirtualBoard, link: SerialLink, ssid: bytes, password: bytes, why: str
) -> None:
    payload = bytes((len(ssid),)) + ssid + bytes((len(password),)) + password
    link.send(improv.rpc(Rpc.SEND_WIFI, payload))  # the desktop check bypassed on purpose
    assert _improv_error(link) == ImprovError.INVALID_RPC
    assert _logged(link, why)
    assert not (board.flash / "secrets.json").exists()


def test_wrong_wifi_password_keeps_the_previous_settings(
    board: VirtualBoard, console: SetupConsole
) -> None:
    ssid, password = next(iter(WIFI.items()))
    console.set_wifi(ssid, password)
    before = (board.flash / "secrets.json").read_bytes()
    with pytest.raises(ProvisionError, match="unable to connect"):
        console.set_wifi(ssid, "not-the-password")
    assert (board.flash / "secrets.json").read_bytes() == before
    assert b"not-the-password" not in before


def test_bad_checksum_and_unknown_rpc(link: SerialLink) -> None:
    frame = improv.rpc(Rpc.REQUEST_STATE)
    link.send(frame[:-2] + bytes(((frame[-2] + 1) & 0xFF,)) + b"\n")
    assert _improv_error(link) == ImprovError.INVALID_RPC
    assert _logged(link, "bad checksum")
    link.send(improv.rpc(0x42))
    assert _improv_error(link) == ImprovError.UNKNOWN_RPC
    lines = SetupConsole(link).request("log")["lines"]  # kept for a later desktop
    assert lines[-2:] == [
        "W console: bad checksum, frame dropped",
        "W console: unknown Improv RPC 0x42",
    ]


def test_malformed_and_truncated_setup_frames(console: SetupConsole, link: SerialLink) -> None:
    whole = improv.setup_request("status")
    link.send(whole[: len(whole) // 2])  # the rest never comes: dropped after 0.5 s
    reply = link.wait_for(lambda f: f.header == improv.SETUP, 15, "reply")
    assert json.loads(reply.data) == {"ok": False, "error": "truncated frame dropped"}
    assert console.request("status")["firmware"]  # and the console works on
    link.send(improv.encode(improv.SETUP, improv.SetupType.REQUEST, b"[1, 2"))
    reply = link.wait_for(lambda f: f.header == improv.SETUP, 15, "reply")
    assert json.loads(reply.data) == {"ok": False, "error": "setup frame: not a JSON object"}
    with pytest.raises(ProvisionError, match="unknown command 'format_flash'"):
        console.request("format_flash")


def test_a_late_answer_to_an_earlier_request_is_skipped(console: SetupConsole) -> None:
    console.link.send(improv.setup_request("log", id=-7))  # as if sent, then given up on
    assert "firmware" in console.request("status")


def test_duplicate_slot_ids_keep_the_previous_config(
    board: VirtualBoard, console: SetupConsole
) -> None:
    before = _configured(console, board)
    slot = device_config("")["slots"][0]
    with pytest.raises(ProvisionError, match=r"slots\[1\]\.id: expected a unique slot id"):
        console.request("slots", slots=[slot, slot])
    assert (board.flash / "config.json").read_bytes() == before


def test_calibration_reads_the_sensor_and_refuses_empty_equal_full(
    board: VirtualBoard, console: SetupConsole, bench: Path
) -> None:
    _configured(console, board)
    write_bench(bench, EMPTY_RAW + 500)  # the empty container on the load cell
    assert console.request("calibrate", slot="toner", point="empty")["raw"] == EMPTY_RAW + 500
    before = (board.flash / "config.json").read_bytes()
    with pytest.raises(ProvisionError, match="sensor.full: expected a value different"):
        console.request("calibrate", slot="toner", point="full")  # still empty: full == empty
    assert (board.flash / "config.json").read_bytes() == before
    write_bench(bench, FULL_RAW)
    console.request("calibrate", slot="toner", point="full")
    sensor = json.loads((board.flash / "config.json").read_text())["slots"][0]["sensor"]
    assert (sensor["empty"], sensor["full"]) == (EMPTY_RAW + 500, FULL_RAW)
    write_bench(bench, None)  # unplugged
    with pytest.raises(ProvisionError, match="does not answer"):
        console.request("calibrate", slot="toner", point="empty")


def test_refill_zeroes_a_dose_counter_and_refuses_other_slots(
    board: VirtualBoard, console: SetupConsole
) -> None:
    counter = {"driver": "counter", "pin": 32, "empty": 200, "full": 0, "stuck_readings": 0}
    slots = [*device_config("http://127.0.0.1:9")["slots"], {"id": "tabs", "sensor": counter}]
    console.request("config", config=device_config("http://127.0.0.1:9", slots))
    counts = board.flash / "counter.json"
    counts.write_text('{"tabs": 137}')  # doses counted since the last refill
    console.request("refill", slot="tabs")
    assert json.loads(counts.read_text()) == {"tabs": 0}
    with pytest.raises(ProvisionError, match="'toner' has no dose counter"):
        console.request("refill", slot="toner")  # a load cell sees the refill itself
    with pytest.raises(ProvisionError, match="no slot 'ink'"):
        console.request("refill", slot="ink")
    assert json.loads(counts.read_text()) == {"tabs": 0}


def test_status_never_returns_a_secret(board: VirtualBoard, console: SetupConsole) -> None:
    _configured(console, board)
    secret = "amzn1.oa2-cs.v1." + "f" * 40
    console.request(
        "lwa",
        client_id="amzn1.application-oa2-client.x",
        client_secret=secret,
        refresh_token="Atz" + "r|" + "r" * 40,
    )
    status = console.request("status")
    assert status["lwa"] == {"client_id": "present", "refresh_token": "present"}
    assert secret not in json.dumps(status)
    assert json.loads((board.flash / "secrets.json").read_text())["lwa"]["client_secret"] == secret


def test_lwa_credentials_missing_a_key_are_refused(
    board: VirtualBoard, console: SetupConsole
) -> None:
    with pytest.raises(ProvisionError, match="lwa.refresh_token: missing"):
        console.request("lwa", client_id="id", client_secret="s" * 10)
    assert not (board.flash / "secrets.json").exists()


def test_factory_reset(board: VirtualBoard, console: SetupConsole) -> None:
    _configured(console, board)
    (board.flash / "counter.json").write_text('{"tabs": 137}')  # a dose count of the old setup
    console.request("factory_reset")
    assert not (board.flash / "config.json").exists()
    assert not (board.flash / "counter.json").exists()
    assert console.request("status")["mode"] == "setup"
