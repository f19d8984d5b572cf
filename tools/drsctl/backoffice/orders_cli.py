"""``drsctl orders``: the seller's view of the orders devices place (SP-API Orders v0).

Tables for people by default, ``--json`` for scripts. Exit codes: 0 ok, 1 the API said
no (or could not be reached), 2 usage or configuration error. Throttling (429) is waited
out with a countdown on stderr; no secret is ever printed.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from drsctl.backoffice.credentials import CredentialsError, SpApiCredentials, load_credentials
from drsctl.backoffice.spapi_client import (
    MARKETPLACE_US,
    ShipmentItem,
    SpApiClient,
    SpApiError,
)

ORDER_STATUSES = (
    "PendingAvailability",
    "Pending",
    "Unshipped",
    "PartiallyShipped",
    "Shipped",
    "InvoiceUnconfirmed",
    "Canceled",
    "Unfulfillable",
)
DEFAULT_WINDOW_DAYS = 30

app = typer.Typer(
    help="The seller's orders through the Selling Partner API (Orders v0).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Module-level so tests can swap them: where countdowns go, how waiting is done, and
# (None: the network) what answers the HTTP requests.
ERR = Console(stderr=True)
SLEEP: Callable[[float], None] = time.sleep
TRANSPORT: httpx.BaseTransport | None = None


class Countdown:
    """A :data:`~drsctl.backoffice.spapi_client.Waiter` that counts down on a console.

    On a terminal it shows ``<reason>: retrying in N s`` and ticks once a second (then
    clears the line); otherwise it prints one plain line and waits quietly. ``sleep`` does
    the waiting, so tests pass a recorder and never sleep wall time.
    """

    def __init__(self, console: Console, sleep: Callable[[float], None], step: float = 1.0) -> None:
        self.console = console
        self.sleep = sleep
        self.step = step

    def __call__(self, seconds: float, reason: str) -> None:
        """Wait ``seconds`` and tell the user why."""
        if not self.console.is_terminal:
            self.console.print(f"{reason}: waiting {seconds:.1f} s", highlight=False)
            self.sleep(seconds)
            return
        remaining = seconds
        with Live(console=self.console, auto_refresh=False, transient=True) as live:
            while remaining > 1e-9:
                live.update(
                    Text(f"⏳ {reason}: retrying in {math.ceil(remaining)} s", style="yellow"),
                    refresh=True,
                )
                chunk = min(self.step, remaining)
                self.sleep(chunk)
                remaining -= chunk


def build_client(credentials: SpApiCredentials) -> SpApiClient:
    """The client every command uses (waits go through :class:`Countdown`)."""
    return SpApiClient(credentials, wait=Countdown(ERR, lambda s: SLEEP(s)), transport=TRANSPORT)


@contextmanager
def _session(config: Path | None) -> Iterator[SpApiClient]:
    """Load credentials, open a client, and turn failures into messages and exit codes."""
    try:
        credentials = load_credentials(config)
    except CredentialsError as exc:
        ERR.print(f"[red]error:[/] {_escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None
    try:
        with build_client(credentials) as client:
            yield client
    except SpApiError as exc:
        ERR.print(f"[red]error:[/] {_escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from None


def _escape(text: str) -> str:
    """Escape rich markup in a message (order ids, server text)."""
    from rich.markup import escape

    return escape(text)


def _print_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout (no colours, for scripts)."""
    print(json.dumps(value, indent=2, sort_keys=False))


def _table(title: str | None = None) -> Table:
    """A table in the house style."""
    return Table(title=title, title_justify="left", header_style="bold")


def _out() -> Console:
    """The stdout console for tables and confirmations (no auto-highlighting)."""
    return Console(highlight=False)


# -- option parsing -------------------------------------------------------


def _sp_time(moment: datetime) -> str:
    """``moment`` in SP-API's ``YYYY-MM-DDTHH:MM:SSZ`` form (UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso(value: str | None, option: str) -> str | None:
    """Normalize an ISO-8601 date or date-time to SP-API's ``YYYY-MM-DDTHH:MM:SSZ`` (UTC)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO-8601 date or date-time (e.g. 2030-01-31 or "
            "2030-01-31T08:00:00Z)",
            param_hint=option,
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return _sp_time(parsed)


def _statuses(values: list[str] | None) -> list[str]:
    """Canonical order statuses from ``--status`` (repeatable, commas allowed, any case)."""
    canonical = {s.lower(): s for s in ORDER_STATUSES}
    chosen: list[str] = []
    for value in values or []:
        for part in value.split(","):
            name = canonical.get(part.strip().lower())
            if name is None:
                raise typer.BadParameter(
                    f"{part!r}: choose from {', '.join(ORDER_STATUSES)}", param_hint="--status"
                )
            if name not in chosen:
                chosen.append(name)
    return chosen


def _items(values: list[str] | None) -> list[ShipmentItem]:
    """Shipment lines from ``--item ORDER_ITEM_ID[:QUANTITY]``."""
    items = []
    for value in values or []:
        item_id, _, qty = value.partition(":")
        try:
            quantity = int(qty) if qty else 1
        except ValueError:
            quantity = 0
        if not item_id or quantity < 1:
            raise typer.BadParameter(
                f"{value!r}: use ORDER_ITEM_ID or ORDER_ITEM_ID:QUANTITY (quantity ≥ 1)",
                param_hint="--item",
            )
        items.append(ShipmentItem(item_id, quantity))
    return items


def _money(value: Any) -> str:
    """``{"Amount": "19.99", "CurrencyCode": "USD"}`` → ``19.99 USD`` (else empty)."""
    if isinstance(value, dict) and "Amount" in value:
        return f"{value.get('Amount')} {value.get('CurrencyCode', '')}".strip()
    return ""


def _when(value: Any) -> str:
    """A compact UTC time for tables: ``2030-01-31 08:00`` (the JSON keeps full ISO)."""
    if not isinstance(value, str):
        return ""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return parsed.strftime("%Y-%m-%d %H:%M")


def _cell(value: Any) -> str:
    """Any JSON value as table text (money as an amount, objects as compact JSON)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict) and "Amount" in value:
        return _money(value)
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(", ", ": "))
    return str(value)


# The columns of ``orders list``, most wanted first: on a narrow terminal the last ones
# are left out; the order id is never cut.
_ORDER_COLUMNS: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("Order", lambda o: _cell(o.get("AmazonOrderId"))),
    ("Status", lambda o: _cell(o.get("OrderStatus"))),
    ("Purchased (UTC)", lambda o: _when(o.get("PurchaseDate"))),
    ("Total", lambda o: _money(o.get("OrderTotal"))),
    ("Unshipped", lambda o: _cell(o.get("NumberOfItemsUnshipped"))),
    ("Shipped", lambda o: _cell(o.get("NumberOfItemsShipped"))),
    ("Updated (UTC)", lambda o: _when(o.get("LastUpdateDate"))),
)
_TABLE_CELL_EDGES = 3  # a rich table cell's padding (2) and its left border (1)


def _print_orders(out: Console, orders: list[dict[str, Any]]) -> None:
    """The orders as a table that fits the terminal, or as plain columns when piped."""
    rows = [[cell(order) for _, cell in _ORDER_COLUMNS] for order in orders]
    names = [name for name, _ in _ORDER_COLUMNS]
    widths = [max([len(name)] + [len(row[i]) for row in rows]) for i, name in enumerate(names)]
    if not out.is_terminal:  # scripts and pipes: every column, whole, space-separated
        for line in [names, *rows]:
            out.print(
                "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip(),
                soft_wrap=True,
                markup=False,
            )
        return
    shown = len(names)
    while shown > 1 and sum(w + _TABLE_CELL_EDGES for w in widths[:shown]) + 1 > out.width:
        shown -= 1
    table = _table()
    for name, width in zip(names[:shown], widths[:shown], strict=True):
        table.add_column(name, no_wrap=True, min_width=width)
    for row in rows:
        table.add_row(*row[:shown])
    out.print(table)
    if shown < len(names):
        out.print(f"(left out for width: {', '.join(names[shown:])}; --json has everything)")


# -- commands -------------------------------------------------------------

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="JSON credentials file (default: ~/.config/drsctl/spapi.json); "
        "SPAPI_* environment variables take precedence.",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@app.command("list")
def list_orders(
    created_after: Annotated[
        str | None,
        typer.Option(
            help=f"Orders created at or after this ISO-8601 time "
            f"(default: {DEFAULT_WINDOW_DAYS} days ago unless --updated-* is given)."
        ),
    ] = None,
    created_before: Annotated[
        str | None, typer.Option(help="Orders created at or before this time.")
    ] = None,
    updated_after: Annotated[
        str | None,
        typer.Option(
            help=f"Orders last updated at or after this time (default with --updated-before: "
            f"{DEFAULT_WINDOW_DAYS} days ago); not with --created-*."
        ),
    ] = None,
    updated_before: Annotated[
        str | None, typer.Option(help="Orders last updated at or before this time.")
    ] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(help="Only orders in this status (repeatable): " + ", ".join(ORDER_STATUSES)),
    ] = None,
    marketplace: Annotated[
        list[str] | None,
        typer.Option(help=f"Marketplace id (repeatable; default: {MARKETPLACE_US})."),
    ] = None,
    max_per_page: Annotated[
        int | None, typer.Option(min=1, max=100, help="Orders per getOrders page (1-100).")
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, help="Stop after this many orders (pages are followed).")
    ] = 100,
    next_token: Annotated[
        str | None, typer.Option(help="Continue an earlier listing from its NextToken.")
    ] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List orders (getOrders), following NextToken pages up to --limit."""
    filters = {
        "created_after": _iso(created_after, "--created-after"),
        "created_before": _iso(created_before, "--created-before"),
        "updated_after": _iso(updated_after, "--updated-after"),
        "updated_before": _iso(updated_before, "--updated-before"),
    }
    by_update = bool(filters["updated_after"] or filters["updated_before"])
    if by_update and (filters["created_after"] or filters["created_before"]):
        raise typer.BadParameter(
            "--created-* and --updated-* cannot be combined (SP-API rule)",
            param_hint="--updated-after",
        )
    window_start = "updated_after" if by_update else "created_after"
    if not filters[window_start]:
        since = datetime.now(UTC) - timedelta(days=DEFAULT_WINDOW_DAYS)
        filters[window_start] = _sp_time(since)
    with _session(config) as client:
        orders, more = client.get_orders(
            limit=limit,
            marketplace_ids=marketplace or [MARKETPLACE_US],
            statuses=_statuses(status),
            max_per_page=max_per_page,
            next_token=next_token,
            **filters,
        )
    if as_json:
        _print_json({"Orders": orders, "NextToken": more})
        return
    out = _out()
    _print_orders(out, orders)
    out.print(f"{len(orders)} order{'s' if len(orders) != 1 else ''}")
    if more:
        out.print(f"more orders: continue with --next-token {more}", soft_wrap=True)


@app.command("get")
def get_order(
    order_id: Annotated[str, typer.Argument(help="Amazon order id (3-7-7).")],
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one order (getOrder)."""
    with _session(config) as client:
        order = client.get_order(order_id)
    if as_json:
        _print_json(order)
        return
    table = _table(f"Order {order.get('AmazonOrderId', order_id)}")
    table.add_column("Field", no_wrap=True)
    table.add_column("Value")
    for key, value in order.items():
        table.add_row(key, _cell(value))
    _out().print(table)


@app.command("items")
def order_items(
    order_id: Annotated[str, typer.Argument(help="Amazon order id (3-7-7).")],
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List an order's items (getOrderItems, every page)."""
    with _session(config) as client:
        items = client.get_order_items(order_id)
    if as_json:
        _print_json({"AmazonOrderId": order_id, "OrderItems": items})
        return
    table = _table(f"Items of order {order_id}")
    for column in ("Item", "ASIN", "SKU", "Title", "Ordered", "Shipped", "Price"):
        table.add_column(column, no_wrap=column in ("Item", "ASIN"))
    for item in items:
        table.add_row(
            _cell(item.get("OrderItemId")),
            _cell(item.get("ASIN")),
            _cell(item.get("SellerSKU")),
            _cell(item.get("Title")),
            _cell(item.get("QuantityOrdered")),
            _cell(item.get("QuantityShipped")),
            _money(item.get("ItemPrice")),
        )
    _out().print(table)


@app.command("confirm-shipment")
def confirm_shipment(
    order_id: Annotated[str, typer.Argument(help="Amazon order id (3-7-7).")],
    carrier: Annotated[str, typer.Option(help="Carrier code, e.g. UPS, USPS, FedEx, Other.")],
    tracking: Annotated[str, typer.Option(help="The carrier's tracking number.")],
    package_id: Annotated[
        str,
        typer.Option(help="Package reference id (a positive number; reuse it to edit)."),
    ] = "1",
    ship_date: Annotated[
        str | None,
        typer.Option(help="When it shipped (ISO-8601; default: now, on the emulator its clock)."),
    ] = None,
    carrier_name: Annotated[
        str | None, typer.Option(help="Carrier name (needed with --carrier Other).")
    ] = None,
    shipping_method: Annotated[str | None, typer.Option(help="Ship method.")] = None,
    item: Annotated[
        list[str] | None,
        typer.Option(
            help="ORDER_ITEM_ID or ORDER_ITEM_ID:QUANTITY (repeatable; "
            "default: every item as ordered)."
        ),
    ] = None,
    marketplace: Annotated[str, typer.Option(help="Marketplace id.")] = MARKETPLACE_US,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Confirm that an order shipped (confirmShipment)."""
    if not (package_id.isascii() and package_id.isdigit()) or int(package_id) < 1:
        raise typer.BadParameter("must be a positive number", param_hint="--package-id")
    if carrier.lower() == "other" and not carrier_name:
        raise typer.BadParameter("needed with --carrier Other", param_hint="--carrier-name")
    when = _iso(ship_date, "--ship-date")
    items = _items(item)
    with _session(config) as client:
        if when is None:  # the server's now: the emulator runs on its own clock
            server_now = client.emulator_clock()
            now = (
                datetime.now(UTC) if server_now is None else datetime.fromtimestamp(server_now, UTC)
            )
            when = _sp_time(now)
        if not items:
            items = [
                ShipmentItem(str(i["OrderItemId"]), int(i.get("QuantityOrdered") or 1))
                for i in client.get_order_items(order_id)
            ]
            if not items:
                ERR.print(
                    f"[red]error:[/] order {_escape(order_id)} has no items to ship", soft_wrap=True
                )
                raise typer.Exit(1)
        body = client.confirm_shipment(
            order_id,
            package_reference_id=package_id,
            carrier_code=carrier,
            tracking_number=tracking,
            ship_date=when,
            items=items,
            marketplace_id=marketplace,
            carrier_name=carrier_name,
            shipping_method=shipping_method,
        )
    if as_json:
        _print_json({"AmazonOrderId": order_id, "confirmed": True, **body})
        return
    lines = ", ".join(f"{i.order_item_id} ×{i.quantity}" for i in items)
    _out().print(
        f"Shipment confirmed for order {order_id}: package {package_id}, "
        f"{carrier} {tracking}, shipped {when}; items {lines}",
        soft_wrap=True,
    )
