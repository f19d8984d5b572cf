"""The serial-side subcommands: ``virtual-board``, ``deploy``, ``provision``, ``monitor``.

``register(app)`` adds them to the ``drsctl`` command. Errors end as one line on
stderr and exit code 1 (2 for bad usage); secrets never reach the output.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from drsctl.board.cabundle import CaBundleError, amazon_roots_pem
from drsctl.board.deploy import DeployError, build_bundle, deploy
from drsctl.board.monitor import watch
from drsctl.board.provision import (
    LwaCredentials,
    Plan,
    ProvisionError,
    SetupConsole,
    provision,
    write_record,
)
from drsctl.board.serial_link import DeviceTimeout, PortError, SerialLink
from drsctl.clierrors import runtime_error, usage_error

err = Console(stderr=True, highlight=False, soft_wrap=True)  # progress and device log
PortOption = Annotated[str, typer.Option(help="Serial port of the board, e.g. /dev/ttyUSB0.")]


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        usage_error(what, f"cannot read {path}: {exc.strerror}")
    except ValueError as exc:
        usage_error(what, f"{path} is not valid JSON: {exc}")


def _parse_wifi(values: list[str]) -> dict[str, str]:
    networks = {}
    for value in values:
        ssid, sep, password = value.partition("=")
        if not sep or not ssid:
            usage_error("--wifi", f"expected SSID=PASSWORD, got {value!r}")
        networks[ssid] = password
    return networks


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def virtual_board(
    flash: Annotated[
        Path | None, typer.Option(help="Folder that plays the board's flash (default: a temp dir).")
    ] = None,
    wifi: Annotated[
        list[str] | None,
        typer.Option(help="An access point in range, SSID=PASSWORD (repeatable)."),
    ] = None,
    bench: Annotated[
        Path | None,
        typer.Option(help="Simulated sensors, a JSON file (see docs/provisioning.md)."),
    ] = None,
    heap: Annotated[str | None, typer.Option(help="MicroPython heap, e.g. 64k.")] = None,
) -> None:
    """A board without hardware: MicroPython unix port behind a pty; first line `port: ...`."""
    from drsctl.board.virtual_board import VirtualBoard

    networks = _parse_wifi(wifi or [])
    with tempfile.TemporaryDirectory(prefix="drsctl-flash-") as tmp:
        folder = flash or Path(tmp)
        if not folder.is_dir():
            usage_error("--flash", f"{folder} is not a folder")
        board = VirtualBoard(folder, wifi=networks, bench=bench, heap=heap)
        signal.signal(signal.SIGTERM, _stop_on_sigterm)  # `kill` stops it as Ctrl-C does
        print(f"port: {board.port}", flush=True)
        err.print(f"flash: {folder}  (Ctrl-C to stop)")
        try:
            board.run()
        except KeyboardInterrupt:
            pass
        finally:
            board.stop()


def deploy_command(
    port: Annotated[str | None, typer.Option(help="Serial port of the board.")] = None,
    bundle: Annotated[
        Path | None, typer.Option(help="Only build the device's file tree into this folder.")
    ] = None,
    ca_bundle: Annotated[
        Path | None,
        typer.Option(
            help="PEM file to ship as amazon_roots.pem (default: the Amazon roots from the"
            " pinned certifi bundle)."
        ),
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="Also write this config.json (only if asked).")
    ] = None,
    secrets: Annotated[
        Path | None, typer.Option(help="Also write this secrets.json (only if asked).")
    ] = None,
    overwrite_provisioned: Annotated[
        bool, typer.Option(help="Replace config.json/secrets.json a device already has.")
    ] = False,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the board to answer.", min=0.1)
    ] = 10.0,
) -> None:
    """Compile firmware/ to .mpy and copy what changed to the board (main.py last)."""
    if (port is None) == (bundle is None):
        usage_error("--port", "give --port (deploy) or --bundle (build only)")
    if ca_bundle is not None and not ca_bundle.is_file():
        usage_error("--ca-bundle", f"{ca_bundle} is not a file")
    config_data = _read_json(config, "--config") if config else None
    secrets_data = _read_json(secrets, "--secrets") if secrets else None
    with tempfile.TemporaryDirectory(prefix="drsctl-bundle-") as tmp:
        out = bundle or Path(tmp) / "bundle"
        try:
            ca_pem = ca_bundle.read_bytes() if ca_bundle else amazon_roots_pem()
            files = build_bundle(out, ca_pem, config_data, secrets_data)
        except (OSError, RuntimeError, CaBundleError) as exc:
            runtime_error(f"build: {exc}")
        if port is None:
            print(f"bundle: {len(files)} files in {out}")
            return
        try:
            changed = deploy(port, out, files, overwrite_provisioned, err.print, timeout)
        except (DeployError, PortError, DeviceTimeout) as exc:
            runtime_error(str(exc))
    print(f"deployed: {len(changed)} of {len(files)} files changed")


def _plan(
    config_file: Path | None,
    ssid: str | None,
    password: str | None,
    slots_file: Path | None,
    authorization_code: str | None,
    refresh_token: str | None,
) -> Plan:
    """The provisioning plan from the --config file, overridden by the options."""
    spec = _read_json(config_file, "--config") if config_file else {}
    if not isinstance(spec, dict):
        usage_error("--config", "expected a JSON object")
    plan = Plan(config=spec.get("config"), calibration=spec.get("calibration") or [])
    wifi = spec.get("wifi") or {}
    ssid = ssid or wifi.get("ssid")
    if ssid is None and sys.stdin.isatty():
        ssid = typer.prompt("Wi-Fi SSID (empty: keep the device's)", default="", show_default=False)
    if ssid:
        if password is None:
            password = wifi.get("password")
        if password is None:
            if not sys.stdin.isatty():
                usage_error("--password", "no Wi-Fi password given")
            password = typer.prompt("Wi-Fi password", hide_input=True, default="")
        plan.wifi = (ssid, password or "")
    if slots_file is not None:
        slots = _read_json(slots_file, "--slots")
        if not isinstance(slots, list):
            usage_error("--slots", "expected a JSON list of slots")
        plan.slots = slots
    lwa = spec.get("lwa")
    if authorization_code or refresh_token or lwa:
        lwa = lwa or {}
        client_id = lwa.get("client_id")
        client_secret = os.environ.get("DRSCTL_LWA_CLIENT_SECRET") or lwa.get("client_secret")
        if not client_id or not client_secret:
            usage_error(
                "--config",
                "LwA needs lwa.client_id and lwa.client_secret in the --config file "
                "(or DRSCTL_LWA_CLIENT_SECRET)",
            )
        plan.lwa = LwaCredentials(
            client_id=client_id,
            client_secret=client_secret,
            authorization_code=authorization_code or lwa.get("authorization_code"),
            redirect_uri=lwa.get("redirect_uri"),
            refresh_token=refresh_token or lwa.get("refresh_token"),
        )
        if not plan.lwa.authorization_code and not plan.lwa.refresh_token:
            usage_error("--auth-code", "give --auth-code (or a refresh token)")
    return plan


def provision_command(
    port: PortOption,
    config: Annotated[
        Path | None,
        typer.Option(help="Provisioning file: wifi, config, calibration, lwa (see docs)."),
    ] = None,
    ssid: Annotated[str | None, typer.Option(help="Wi-Fi network.")] = None,
    password: Annotated[
        str | None, typer.Option(help="Wi-Fi password (prompted on a terminal if missing).")
    ] = None,
    slots: Annotated[Path | None, typer.Option(help="JSON list of slots to write.")] = None,
    auth_code: Annotated[
        str | None, typer.Option(help="LwA authorization code from the companion app.")
    ] = None,
    refresh_token: Annotated[
        str | None,
        typer.Option(envvar="DRSCTL_REFRESH_TOKEN", help="An LwA refresh token instead of a code."),
    ] = None,
    check: Annotated[
        bool, typer.Option(help="Ask the device to call DRS subscriptionInfo at the end.")
    ] = True,
    record: Annotated[
        Path | None, typer.Option(help="Append a provisioning record (JSON line, no secrets).")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each answer.")] = 10.0,
) -> None:
    """Provision a board over its setup console: Wi-Fi, config, slots, LwA; then verify."""
    plan = _plan(config, ssid, password, slots, auth_code, refresh_token)
    plan.check = check
    status = None
    try:
        with SerialLink(port, on_log=lambda line: err.print(f"  | {line}", markup=False)) as link:
            status = provision(SetupConsole(link, timeout), plan, say=err.print)
    except (ProvisionError, PortError, DeviceTimeout) as exc:
        if record is not None:
            write_record(record, port, status, f"failed: {exc}")
        runtime_error(str(exc))
    if record is not None:
        write_record(record, port, status, "ok")
    print(json.dumps(status, indent=1))


def monitor_command(
    port: PortOption,
    status_every: Annotated[float, typer.Option(help="Seconds between status lines.")] = 10.0,
    duration: Annotated[
        float | None, typer.Option("--for", help="Stop after this many seconds.")
    ] = None,
) -> None:
    """The agent's log and status, live and redacted, until Ctrl-C."""
    try:
        with SerialLink(port, on_log=lambda line: print(line, flush=True)) as link:
            watch(SetupConsole(link), lambda line: print(line, flush=True), status_every, duration)
    except KeyboardInterrupt:
        pass
    except (PortError, DeviceTimeout) as exc:
        runtime_error(str(exc))


def register(app: typer.Typer) -> None:
    """Add the serial-side subcommands to ``drsctl``."""
    app.command("virtual-board")(virtual_board)
    app.command("deploy")(deploy_command)
    app.command("provision")(provision_command)
    app.command("monitor")(monitor_command)
