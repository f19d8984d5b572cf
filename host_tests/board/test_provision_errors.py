"""drsctl provision: clear errors for a wrong or busy port, a silent device, bad codes."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from drsctl.board.provision import Plan, ProvisionError, SetupConsole, provision
from drsctl.board.serial_link import DeviceTimeout, SerialLink
from drsctl.board.virtual_board import VirtualBoard
from drsctl.cli import app
from typer.testing import CliRunner

from host_tests.board.boardhelpers import WIFI, device_config, lwa_plan


def test_expired_code_is_refused_and_the_device_gets_no_credentials(
    board: VirtualBoard, console: SetupConsole, registered: dict[str, Any], new_code
) -> None:
    code = new_code()
    registered["control"].advance(301)  # codes live 5 minutes (the emulator's clock)
    with pytest.raises(ProvisionError, match="expired .* or was used already"):
        provision(console, lwa_plan(registered, code), say=lambda line: None)
    assert console.request("status")["lwa"]["refresh_token"] == "missing"


def test_reused_code_is_refused(
    board: VirtualBoard, console: SetupConsole, registered: dict[str, Any], new_code
) -> None:
    code = new_code()
    plan = lwa_plan(registered, code)
    plan.check = False
    provision(console, plan, say=lambda line: None)
    with pytest.raises(ProvisionError, match="expired .* or was used already"):
        provision(console, plan, say=lambda line: None)


def test_device_that_stops_answering_mid_provision(board: VirtualBoard, link: SerialLink) -> None:
    def freeze_after_hello(line: str) -> None:
        if line.startswith("device:"):  # it answered once, then hangs
            os.kill(board.pid, signal.SIGSTOP)

    plan = Plan(config=device_config("http://127.0.0.1:9"))
    try:
        with pytest.raises(DeviceTimeout, match="no answer to 'config' within 2 s"):
            provision(SetupConsole(link, timeout=2), plan, say=freeze_after_hello)
        assert not (board.flash / "config.json").exists()
    finally:
        os.kill(board.pid, signal.SIGCONT)


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_cli_missing_port_is_one_line_and_exit_1(tmp_path: Path) -> None:
    result = _run(
        "provision",
        "--port",
        str(tmp_path / "ttyUSB9"),
        "--no-check",
        "--ssid",
        "a",
        "--password",
        "b",
    )
    assert result.exit_code == 1
    assert result.output.strip().endswith(
        "ttyUSB9: no such port (is the board plugged in and powered?)"
    )
    assert "Traceback" not in result.output


def test_cli_busy_port(board: VirtualBoard, link: SerialLink) -> None:
    result = _run("monitor", "--port", board.port, "--for", "1")
    assert result.exit_code == 1
    assert "is busy: another program" in result.output


def test_cli_provision_from_a_file_writes_a_record_without_secrets(
    board: VirtualBoard, registered: dict[str, Any], new_code, tmp_path: Path
) -> None:
    code = new_code()
    ssid, password = next(iter(WIFI.items()))
    spec = {
        "wifi": {"ssid": ssid, "password": password},
        "config": device_config(registered["url"]),
        "lwa": {
            "client_id": registered["client_id"],
            "client_secret": registered["client_secret"],
            "redirect_uri": code["redirect_uri"],
        },
    }
    (tmp_path / "line.json").write_text(json.dumps(spec))
    record = tmp_path / "records.jsonl"
    result = _run(
        "provision",
        "--port",
        board.port,
        "--config",
        str(tmp_path / "line.json"),
        "--auth-code",
        code["code"],
        "--record",
        str(record),
    )
    assert result.exit_code == 0, result.output
    (entry,) = [json.loads(line) for line in record.read_text().splitlines()]
    assert entry["serial"] == "VB-000001" and entry["result"] == "ok"
    assert entry["firmware"] == json.loads(result.stdout)["firmware"]
    for secret in (password, registered["client_secret"], code["code"]):
        assert secret not in result.output
        assert secret not in record.read_text()


def test_cli_bad_usage_exits_2(tmp_path: Path) -> None:
    assert _run("deploy").exit_code == 2
    (tmp_path / "bad.json").write_text("{")
    result = _run("provision", "--port", "/dev/null", "--config", str(tmp_path / "bad.json"))
    assert result.exit_code == 2
    assert "is not valid JSON" in result.output
