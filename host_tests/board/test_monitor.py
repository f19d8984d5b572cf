"""drsctl monitor: log lines and status lines from the port, secrets redacted."""

from __future__ import annotations

from drsctl.board.monitor import format_status
from drsctl.board.serial_link import redact
from drsctl.board.virtual_board import VirtualBoard
from drsctl.cli import app
from typer.testing import CliRunner

from host_tests.fake_tokens import REFRESH


def test_redact_masks_tokens_secrets_and_passwords() -> None:
    token = REFRESH + "IwEBIA" + "x" * 30
    secret = "amzn1.oa2-cs.v1." + "0f" * 20
    line = (
        f'W lwa: refresh failed for {token}; {{"client_secret": "{secret}"}} '
        "password=hunter22 ssid=home"
    )
    cleaned = redact(line)
    for value in (token, secret, "hunter22"):
        assert value not in cleaned
    assert cleaned.startswith("W lwa: refresh failed for Atzr|***")
    assert "ssid=home" in cleaned  # not a secret: kept


def test_format_status_line() -> None:
    status = {
        "serial": "PRN-1",
        "firmware": "0.1.0",
        "mode": "running",
        "wifi": {"ssid": "home", "connected": True},
        "lwa": {"refresh_token": "present"},
        "heap_free": 12000,
        "slots": [{"id": "toner", "state": "ordered", "level": 0.08}],
        "last_error": None,
    }
    assert format_status(status) == (
        "status: PRN-1 firmware 0.1.0 running; Wi-Fi home connected; refresh token: present;"
        " heap free 12000; slots: toner=ordered 8%"
    )


def test_cli_monitor_prints_log_and_status(board: VirtualBoard) -> None:
    result = CliRunner().invoke(
        app, ["monitor", "--port", board.port, "--for", "2", "--status-every", "1"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("status: (no serial) firmware") for line in lines)
    assert "earlier: E config.json: missing" in lines  # logged at boot, before we looked
