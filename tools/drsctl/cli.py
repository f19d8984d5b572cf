"""``drsctl``: the one command for the fake Amazon and the simulator."""

from __future__ import annotations

import json
import math
import os
import re
import ssl
import sys
import tempfile
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import click
import httpx
import typer
import typer.core
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from drsctl.backoffice.orders_cli import app as orders_app
from drsctl.board.commands import register as register_board_commands
from drsctl.board.flash import flash
from drsctl.clierrors import runtime_error, usage_error
from drsctl.sim.device import RUNTIMES, FirmwareMismatch, parse_heap

app = typer.Typer(
    help="Desktop tools for the DRS firmware agent.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(orders_app, name="orders")
register_board_commands(app)  # virtual-board, deploy, provision, monitor
app.command()(flash)
err = Console(stderr=True)
_SELLER_NAME = re.compile(r"[a-z0-9]{1,30}")

_typed_option_display = typer.core.TyperOption.display_type_rich


def _flag_display(self: typer.core.TyperOption, ctx: click.Context) -> str | None:
    """On/off flags take no value: show no ``<bool>`` type in the help (Typer shows one)."""
    return None if self.is_flag else _typed_option_display(self, ctx)


typer.core.TyperOption.display_type_rich = _flag_display  # type: ignore[method-assign]


@app.command()
def emulator(
    port: Annotated[
        int, typer.Option(help="TCP port to listen on (0: any free port, printed at start).")
    ] = 8080,
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    db: Annotated[Path, typer.Option(help="SQLite file holding all state.")] = Path(
        "emulator.sqlite3"
    ),
    tls: Annotated[bool, typer.Option(help="Serve HTTPS with a generated local CA.")] = False,
    tls_dir: Annotated[
        Path | None,
        typer.Option(help="Where the local CA and server cert live (default: tls/ next to --db)."),
    ] = None,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log/--no-access-log",
            help="Print one line per request to stderr (no headers, bodies or query strings).",
        ),
    ] = False,
) -> None:
    """Serve the fake Amazon: LwA, DRS v1, SP-API Orders v0, MWS and /_emulator control."""
    from drsctl.emulator.server import StartupError, serve

    if not 0 <= port <= 65535:
        usage_error("--port", f"{port} is not a TCP port (0-65535; 0 picks a free one)")
    if db.is_dir():
        usage_error("--db", f"{db} is a directory; give the database file inside it")
    if not db.parent.is_dir():
        usage_error("--db", f"folder {db.parent} does not exist; create it or pick another path")
    if tls_dir is not None and not tls:
        usage_error("--tls-dir", "only with --tls")
    if tls_dir is not None and not (tls_dir.is_dir() or tls_dir.parent.is_dir()):
        usage_error("--tls-dir", f"folder {tls_dir.parent} does not exist; create it first")
    try:
        serve(host=host, port=port, db_path=db, tls=tls, tls_dir=tls_dir, access_log=access_log)
    except StartupError as exc:
        runtime_error(str(exc))


def _check_options(runtime: str, heap: str | None, days: float, slots: int) -> None:
    if runtime not in RUNTIMES:
        usage_error("--runtime", f"choose one of {', '.join(RUNTIMES)}")
    if heap is not None:
        if runtime != "micropython":
            usage_error("--heap", "only with --runtime micropython")
        try:
            parse_heap(heap)
        except ValueError as exc:
            usage_error("--heap", str(exc))
    if not math.isfinite(days) or days <= 0:
        usage_error("--days", f"must be a number of days more than 0, got {days}")
    if not 1 <= slots <= 8:
        usage_error("--slots", "between 1 and 8")


def _check_micropython(binary: Path, runtime: str, devices: int) -> None:
    """--micropython: an executable file, for one device on the MicroPython runtime."""
    if runtime != "micropython":
        usage_error("--micropython", "only with --runtime micropython")
    if devices != 1:
        usage_error("--micropython", "only with one device (no --devices)")
    if not binary.is_file() or not os.access(binary, os.X_OK):
        usage_error("--micropython", f"{binary} is not an executable file")


def _check_days(option: str, value: float | None) -> None:
    """A number of days: finite and not negative (None: not given)."""
    if value is not None and not (math.isfinite(value) and value >= 0):
        usage_error(option, f"must be a number of days >= 0, got {value}")


def _check_emulator_url(url: str, ca_file: Path | None) -> None:
    """``--emulator`` must be an http(s) base URL; https needs the CA the device will trust."""
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        usage_error("--emulator", f"{url!r} has a bad port")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        usage_error("--emulator", f"{url!r} is not a URL like http://127.0.0.1:8080")
    if parts.scheme == "https" and ca_file is None:
        usage_error(
            "--ca-file",
            "an https emulator needs its CA (drsctl emulator --tls prints its path, "
            "e.g. tls/ca.pem): the device verifies TLS against it",
        )
    if ca_file is not None:
        if parts.scheme != "https":
            usage_error("--ca-file", "only with an https:// emulator")
        if not ca_file.is_file():
            usage_error("--ca-file", f"{ca_file} is not a file")


def _check_seller(seller: str) -> None:
    """A seller (brand) name as the emulator derives it from a device model."""
    if not _SELLER_NAME.fullmatch(seller):
        usage_error("--seller", f"{seller!r}: use lower-case letters and digits, e.g. acme")


def _maker_config(path: Path) -> dict[str, object]:
    """Read a maker's ``config.json`` for ``--config``; usage error if it cannot be used."""
    from drsctl.sim.harness import slot_ids_of

    try:
        config = json.loads(path.read_text())
        slot_ids_of(config)
    except OSError as exc:
        usage_error("--config", f"cannot read {path}: {exc.strerror}")
    except ValueError as exc:
        usage_error("--config", f"{path}: {exc}")
    return config


def _trace(path: Path) -> dict[str, list[float]]:
    """Read ``--trace``; usage error naming the line when it cannot be used."""
    from drsctl.sim.traces import TraceError, load_csv

    try:
        use = load_csv(path)
    except TraceError as exc:
        usage_error("--trace", str(exc))
    if len(use) > 8:
        usage_error("--trace", f"{path}: {len(use)} slots, at most 8")
    return use


def _lead_times(
    path: Path | None, distribution: str | None, slot_ids: list[str] | None, seed: int
) -> list[float] | dict[str, list[float]] | None:
    """Each order's lead time (hours) from ``--lead-times`` or ``--delivery-dist``."""
    import random

    from drsctl.sim.traces import TraceError, lead_distribution, load_lead_times

    if path is not None and distribution is not None:
        usage_error("--delivery-dist", "give --lead-times or --delivery-dist, not both")
    try:
        if path is not None:
            return load_lead_times(path, slot_ids)
        if distribution is not None:
            return lead_distribution(distribution, random.Random(seed))
    except TraceError as exc:
        usage_error("--lead-times" if path is not None else "--delivery-dist", str(exc))
    return None


@app.command()
def simulate(
    runtime: Annotated[str, typer.Option(help="cpython or micropython.")] = "cpython",
    days: Annotated[
        float | None,
        typer.Option(help="Virtual days to simulate (default 60; with --trace, its length)."),
    ] = None,
    slots: Annotated[
        int, typer.Option(help="Slots on the simulated device (1-8; --config, --trace: theirs).")
    ] = 2,
    heap: Annotated[
        str | None, typer.Option(help="MicroPython heap, e.g. 64k (passed as -X heapsize).")
    ] = None,
    micropython: Annotated[
        Path | None,
        typer.Option(
            help="A MicroPython unix binary of your own instead of the pinned one, e.g. a "
            "build with the agent frozen in (its frozen modules come first)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed of the simulated household.")] = 1,
    delivery_days: Annotated[float, typer.Option(help="Days from order to delivery.")] = 2.0,
    trace: Annotated[
        Path | None,
        typer.Option(
            help="Use from a CSV (hour,used_fraction or hour,slot,used_fraction) instead of "
            "the built-in household; its slots are the device's."
        ),
    ] = None,
    lead_times: Annotated[
        Path | None,
        typer.Option(
            help='Each order\'s delivery lead time from JSON: {"lead_time_hours": [h1, h2, ...]}'
            " or one list per slot (instead of --delivery-days)."
        ),
    ] = None,
    delivery_dist: Annotated[
        str | None,
        typer.Option(help="Lead time per order drawn from fixed:DAYS or uniform:LO:HI (days)."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            help="The device's own config.json: its slot settings are kept; serial, "
            "endpoints, CA and sensor drivers are replaced for the simulation."
        ),
    ] = None,
    lead_time_days: Annotated[
        float | None,
        typer.Option(
            help="Every slot's lead_time_days (default: --config's, else --delivery-days + 1)."
        ),
    ] = None,
    margin_days: Annotated[
        float | None,
        typer.Option(help="Every slot's margin_days (default: --config's, else the agent's 1)."),
    ] = None,
    seller: Annotated[
        str,
        typer.Option(help="Seller (brand) the simulated device's orders belong to."),
    ] = "acme",
    test_orders: Annotated[bool, typer.Option(help="Place DRS test orders.")] = False,
    tls: Annotated[
        bool, typer.Option(help="Talk HTTPS to a private emulator, verified with its local CA.")
    ] = False,
    emulator_url: Annotated[
        str | None,
        typer.Option("--emulator", help="Use a running emulator instead of a private one."),
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option(help="CA of an https --emulator (its tls/ca.pem); the device trusts it."),
    ] = None,
    workdir: Annotated[
        Path | None, typer.Option(help="Keep the device's flash folder and log here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON summary.")] = False,
    plot: Annotated[
        Path | None,
        typer.Option(help="Write a PNG of the levels here (.png added to a name without one)."),
    ] = None,
    story: Annotated[bool, typer.Option(help="Print what happened, day by day.")] = False,
    devices: Annotated[
        int,
        typer.Option(
            help="Simulate a fleet of this many devices on one clock and one emulator "
            "(Amazon's load in the summary; --plot: the load over the day)."
        ),
    ] = 1,
) -> None:
    """Run a simulated appliance with the real firmware against the fake Amazon.

    Exits 1 when the firmware crashed, ordered twice, or spent the run in a
    configuration or credentials error (the reason is printed and in --json).
    """
    if micropython is not None:
        _check_micropython(micropython, runtime, devices)
    if devices != 1:
        fleet_options = {"--heap": heap, "--config": config, "--tls": tls or None,
                         "--ca-file": ca_file, "--story": story or None,
                         "--test-orders": test_orders or None}  # fmt: skip
        _simulate_fleet(devices, runtime, days, slots, seed, delivery_days, emulator_url,
                        workdir, as_json, plot, fleet_options)  # fmt: skip
        return
    from drsctl.control_client import ControlError
    from drsctl.sim.harness import SimOptions, Simulation, emulator_for, wall_clock
    from drsctl.sim.report import plot as write_plot
    from drsctl.sim.report import story as tell
    from drsctl.sim.report import summarize

    use = _trace(trace) if trace is not None else None
    if days is None:
        days = math.ceil(len(next(iter(use.values()))) / 24) if use else 60.0
    _check_options(runtime, heap, days, slots)
    _check_days("--delivery-days", delivery_days)
    _check_days("--lead-time-days", lead_time_days)
    _check_days("--margin-days", margin_days)
    _check_seller(seller)
    if tls and emulator_url:
        usage_error("--tls", "--tls starts a private emulator; omit --emulator")
    if ca_file is not None and not emulator_url:
        usage_error("--ca-file", "only with --emulator https://...")
    if emulator_url:
        _check_emulator_url(emulator_url, ca_file)
    if plot is not None:
        if not plot.suffix:
            plot = plot.with_suffix(".png")  # what matplotlib writes; the summary names it
        if not plot.parent.is_dir():
            usage_error("--plot", f"folder {plot.parent} does not exist; create it first")
    maker_config = _maker_config(config) if config is not None else None
    slot_ids = list(use) if use else None
    if use and maker_config is not None:
        from drsctl.sim.harness import slot_ids_of

        if set(slot_ids_of(maker_config)) != set(use):
            usage_error("--trace", "its slots must be the slots of --config")
    leads = _lead_times(lead_times, delivery_dist, slot_ids, seed)
    if lead_time_days is None and maker_config is None and leads is None:
        # A lead time the run does not vary: the device is told it. Varying ones (the
        # policy benchmark's case) leave the agent's default, as a maker would.
        lead_time_days = delivery_days + 1
    opts = SimOptions(
        runtime=runtime,
        days=days,
        slots=len(maker_config["slots"]) if maker_config else slots,  # type: ignore[arg-type]
        trace=use,
        lead_time_hours=leads,
        heap=heap,
        micropython=str(micropython.resolve()) if micropython else None,
        seed=seed,
        delivery_days=delivery_days,
        lead_time_days=lead_time_days,
        margin_days=margin_days,
        seller=seller,
        maker_config=maker_config,
        test_orders=test_orders,
    )
    where = emulator_url or "the private emulator"
    try:
        with tempfile.TemporaryDirectory(prefix="drsctl-") as tmp:
            base = workdir or Path(tmp)
            base.mkdir(parents=True, exist_ok=True)
            with emulator_for(emulator_url, base, tls=tls, ca_file=ca_file) as emu:
                url, control, ca_pem = emu
                sim = Simulation(control, url, opts, workdir=base, ca_pem=ca_pem)
                started = wall_clock()
                with sim, _progress(f"{days:g} days on {runtime}") as bar:
                    task = bar.add_task("simulating", total=None)
                    sim.run(
                        progress=lambda done, total: bar.update(task, completed=done, total=total)
                    )
                summary = summarize(sim, wall_clock() - started)
                if story:
                    for line in tell(sim.timeline, sim.opts.start):
                        err.print(line, highlight=False) if as_json else print(line)
                if plot:
                    summary["plot"] = str(write_plot(sim, plot))
    except httpx.TransportError as exc:
        hint = "is `drsctl emulator` running there?"
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):
            hint = "give the emulator's CA with --ca-file"
        runtime_error(f"cannot reach the emulator at {where}: {exc} ({hint})")
    except ControlError as exc:
        runtime_error(f"the emulator at {where} refused a control call: {exc}")
    except FirmwareMismatch as exc:
        runtime_error(str(exc))
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        _print_summary(summary)
    if summary["failure"]:
        raise typer.Exit(code=1)


@app.command("place-order")
def place_order(
    emulator_url: Annotated[
        str, typer.Option("--emulator", help="The running emulator's URL.")
    ] = "http://127.0.0.1:8080",
    seller: Annotated[str, typer.Option(help="Seller (brand) the order belongs to.")] = "acme",
    slot: Annotated[str, typer.Option(help="DRS slot id of the ordering device.")] = "toner-black",
    ca_file: Annotated[
        Path | None, typer.Option(help="CA of an https emulator (its tls/ca.pem).")
    ] = None,
    spapi_config: Annotated[
        Path | None,
        typer.Option(help="Also write the seller's credentials here, for drsctl orders --config."),
    ] = None,
) -> None:
    """Place one order at the emulator as a device would; print its Amazon order id.

    A shortcut for trying the back office: a device of the seller's brand is registered,
    gets its LwA token and calls DRS replenish; then the emulator's clock moves on until
    the payment is authorized, so the order is Unshipped and ready to ship.
    """
    from drsctl.control_client import ControlError, EmulatorControl

    _check_emulator_url(emulator_url, ca_file)
    _check_seller(seller)
    if spapi_config is not None and not spapi_config.parent.is_dir():
        usage_error("--spapi-config", f"folder {spapi_config.parent} does not exist")
    verify: ssl.SSLContext | bool = True
    if ca_file is not None:
        verify = ssl.create_default_context(cafile=str(ca_file))
    try:
        with EmulatorControl(emulator_url, verify=verify) as control:
            order = control.place_order(seller, slot)
            credentials = control.create_seller(seller) if spapi_config else None
    except httpx.TransportError as exc:
        runtime_error(f"cannot reach the emulator at {emulator_url}: {exc}")
    except ControlError as exc:
        runtime_error(f"the emulator at {emulator_url} refused: {exc}")
    if spapi_config is not None and credentials is not None:
        config: dict[str, object] = {"endpoint": emulator_url, "lwa": credentials["lwa"]}
        if ca_file is not None:
            config["ca_bundle"] = str(ca_file.resolve())
        spapi_config.touch(mode=0o600)
        spapi_config.write_text(json.dumps(config, indent=1) + "\n")
        err.print(f"SP-API credentials of seller {seller}: {spapi_config}", highlight=False)
    err.print(
        f"order {order['amazon_order_id']} placed for seller {seller} (slot {slot})",
        highlight=False,
    )
    print(order["amazon_order_id"])


def _progress(label: str) -> Progress:
    """A progress bar on stderr that steps aside when nobody is watching (CI, pipes)."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not err.is_terminal,
        transient=True,
    )


def _simulate_fleet(
    devices: int,
    runtime: str,
    days: float,
    slots: int,
    seed: int,
    delivery_days: float,
    emulator_url: str | None,
    workdir: Path | None,
    as_json: bool,
    plot: Path | None,
    single_device_options: dict[str, object],
) -> None:
    """``simulate --devices N``: a fleet, and Amazon's view of it."""
    from drsctl.control_client import ControlError
    from drsctl.sim.fleet import FleetOptions, simulate_fleet

    if not 1 <= devices <= 100_000:
        usage_error("--devices", f"expected 1 to 100000 devices, got {devices}")
    given = [name for name, value in single_device_options.items() if value is not None]
    if given:
        usage_error(given[0], f"{given[0]} applies to one device, not with --devices")
    _check_options(runtime, None, days, slots)
    _check_days("--delivery-days", delivery_days)
    if emulator_url:
        _check_emulator_url(emulator_url, None)
    if plot is not None:
        plot = plot if plot.suffix else plot.with_suffix(".png")
        if not plot.parent.is_dir():
            usage_error("--plot", f"folder {plot.parent} does not exist; create it first")
    opts = FleetOptions(
        devices=devices, days=days, slots=slots, runtime=runtime, seed=seed,
        delivery_days=delivery_days,
    )  # fmt: skip
    where = emulator_url or "the private emulator"
    try:
        with _progress(f"{devices} devices, {days:g} days on {runtime}") as bar:
            task = bar.add_task("provisioning", total=None)

            def progress(stage: str, done: int, total: int) -> None:
                bar.update(task, description=stage, completed=done, total=total)

            summary = simulate_fleet(opts, emulator_url, workdir, progress, plot)
    except httpx.TransportError as exc:
        runtime_error(f"cannot reach the emulator at {where}: {exc}")
    except ControlError as exc:
        runtime_error(f"the emulator at {where} refused a control call: {exc}")
    failed = summary["crashes"] or summary["duplicate_orders"]
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        for key, value in summary.items():
            print(f"{key:<24} {json.dumps(value)}")
    if failed:
        raise typer.Exit(code=1)


def _print_summary(summary: dict[str, object]) -> None:
    print()
    print(f"runtime            {summary['runtime']}  (heap {summary['heap'] or 'default'})")
    print(f"simulated          {summary['days']:g} days, {summary['slots']} slots")
    print(
        f"orders             {summary['orders_placed']} placed, "
        f"{summary['orders_delivered']} delivered, {summary['orders_canceled']} canceled"
    )
    print(f"duplicate orders   {summary['duplicate_orders']}")
    print(f"stockout days      {summary['stockout_days']}  ({summary['stockout_hours']} hours)")
    if summary["stock_left_mean"] is not None:
        print(
            f"stock left         {summary['stock_left_mean']:.0%} mean, "
            f"{summary['stock_left_max']:.0%} max (when a new container went in)"
        )
    if summary["cannot_stock"]:
        print(
            f"cannot stock       {', '.join(summary['cannot_stock'])}: a container lasts less "
            "than a delivery takes (see --story)"
        )
    print(
        f"requests           {summary['requests']} "
        f"({summary['requests_per_device_day_steady']} per steady day, "
        f"{summary['requests_per_order_cycle']} per order cycle)"
    )
    print(f"firmware crashes   {summary['crashes']}")
    if summary.get("crash_reasons"):
        print(f"last crash         {summary['crash_reasons'][-1]}")
    if summary.get("peak_mem_alloc"):
        print(f"peak heap in use   {summary['peak_mem_alloc']} bytes")
    print(f"speed              {summary['device_days_per_second']} device-days per second")
    if summary.get("plot"):
        print(f"plot               {summary['plot']}")
    print(f"seller             {summary['seller']}  (drsctl orders sees these orders as it)")
    if summary["failure"]:
        print(f"FAILED             {summary['failure']}")


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
