"""``drsctl``: the one command for the fake Amazon and the simulator."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from drsctl.backoffice.orders_cli import app as orders_app
from drsctl.board.flash import flash
from drsctl.sim.device import RUNTIMES, parse_heap

app = typer.Typer(
    help="Desktop tools for the DRS firmware agent.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(orders_app, name="orders")
app.command()(flash)
err = Console(stderr=True)


@app.command()
def emulator(
    port: Annotated[int, typer.Option(help="TCP port to listen on.")] = 8080,
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    db: Annotated[Path, typer.Option(help="SQLite file holding all state.")] = Path(
        "emulator.sqlite3"
    ),
    tls: Annotated[bool, typer.Option(help="Serve HTTPS with a generated local CA.")] = False,
    tls_dir: Annotated[
        Path | None, typer.Option(help="Where the local CA and server cert live.")
    ] = None,
) -> None:
    """Serve the fake Amazon: LwA, DRS v1, SP-API Orders v0, MWS and /_emulator control."""
    from drsctl.emulator.server import serve

    serve(host=host, port=port, db_path=db, tls=tls, tls_dir=tls_dir)


def _check_options(runtime: str, heap: str | None, days: float, slots: int) -> None:
    if runtime not in RUNTIMES:
        raise typer.BadParameter(f"choose one of {', '.join(RUNTIMES)}", param_hint="--runtime")
    if heap is not None:
        if runtime != "micropython":
            raise typer.BadParameter("only with --runtime micropython", param_hint="--heap")
        try:
            parse_heap(heap)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--heap") from exc
    if days <= 0:
        raise typer.BadParameter("must be more than 0", param_hint="--days")
    if not 1 <= slots <= 8:
        raise typer.BadParameter("between 1 and 8", param_hint="--slots")


@app.command()
def simulate(
    runtime: Annotated[str, typer.Option(help="cpython or micropython.")] = "cpython",
    days: Annotated[float, typer.Option(help="Virtual days to simulate.")] = 60,
    slots: Annotated[int, typer.Option(help="Slots on the simulated device (1-8).")] = 2,
    heap: Annotated[
        str | None, typer.Option(help="MicroPython heap, e.g. 64k (passed as -X heapsize).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed of the simulated household.")] = 1,
    delivery_days: Annotated[float, typer.Option(help="Days from order to delivery.")] = 2.0,
    test_orders: Annotated[bool, typer.Option(help="Place DRS test orders.")] = False,
    tls: Annotated[
        bool, typer.Option(help="Talk HTTPS to a private emulator, verified with its local CA.")
    ] = False,
    emulator_url: Annotated[
        str | None,
        typer.Option("--emulator", help="Use a running emulator instead of a private one."),
    ] = None,
    workdir: Annotated[
        Path | None, typer.Option(help="Keep the device's flash folder and log here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON summary.")] = False,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG of the levels here.")] = None,
    story: Annotated[bool, typer.Option(help="Print what happened, day by day.")] = False,
) -> None:
    """Run a simulated appliance with the real firmware against the fake Amazon."""
    from drsctl.sim.harness import SimOptions, Simulation, emulator_for, wall_clock
    from drsctl.sim.report import plot as write_plot
    from drsctl.sim.report import story as tell
    from drsctl.sim.report import summarize

    _check_options(runtime, heap, days, slots)
    if tls and emulator_url:
        raise typer.BadParameter(
            "--tls starts a private emulator; omit --emulator", param_hint="--tls"
        )
    opts = SimOptions(
        runtime=runtime,
        days=days,
        slots=slots,
        heap=heap,
        seed=seed,
        delivery_days=delivery_days,
        test_orders=test_orders,
    )
    with tempfile.TemporaryDirectory(prefix="drsctl-") as tmp:
        base = workdir or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        with emulator_for(emulator_url, base, tls=tls) as (url, control, ca_pem):
            sim = Simulation(control, url, opts, workdir=base, ca_pem=ca_pem)
            started = wall_clock()
            with sim, _progress(f"{days:g} days on {runtime}") as bar:
                task = bar.add_task("simulating", total=None)
                sim.run(progress=lambda done, total: bar.update(task, completed=done, total=total))
            summary = summarize(sim, wall_clock() - started)
            if story:
                for line in tell(sim.timeline, sim.opts.start):
                    err.print(line, highlight=False) if as_json else print(line)
            if plot:
                write_plot(sim, plot)
                summary["plot"] = str(plot)
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        _print_summary(summary)
    if summary["crashes"] or summary["duplicate_orders"]:
        raise typer.Exit(code=1)


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


def _print_summary(summary: dict[str, object]) -> None:
    print()
    print(f"runtime            {summary['runtime']}  (heap {summary['heap'] or 'default'})")
    print(f"simulated          {summary['days']:g} days, {summary['slots']} slots")
    print(
        f"orders             {summary['orders_placed']} placed, "
        f"{summary['orders_delivered']} delivered, {summary['orders_canceled']} canceled"
    )
    print(f"duplicate orders   {summary['duplicate_orders']}")
    print(f"stockout days      {summary['stockout_days']}")
    print(
        f"requests           {summary['requests']} "
        f"({summary['requests_per_device_day_steady']} per steady day, "
        f"{summary['requests_per_order_cycle']} per order cycle)"
    )
    print(f"firmware crashes   {summary['crashes']}")
    if summary.get("peak_mem_alloc"):
        print(f"peak heap in use   {summary['peak_mem_alloc']} bytes")
    print(f"speed              {summary['device_days_per_second']} device-days per second")
    if summary.get("plot"):
        print(f"plot               {summary['plot']}")


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
