"""One protocol-neutral view of an order: every derived field computed once.

The SP-API (:mod:`.spapi.views`) and MWS (:func:`.mws.order_xml`) only render an
:class:`OrderView`; none of them derives a status, a count, a total or the buyer on its
own. DRS getOrderInfo (:func:`.drs.order_info_json`) shows only an item and its status:
it reads those few columns (a :class:`.store.OrderItem`) and takes the status from
:func:`.orders.drs_status`, as this view does.
"""

import dataclasses

from . import buyer, orders
from .marketplaces import sales_channel
from .store import Order, Tx


@dataclasses.dataclass(frozen=True)
class OrderView:
    """An order with what every protocol shows of it."""

    order: Order
    drs_status: str
    sales_channel: str
    order_channel: str
    items_shipped: int
    items_unshipped: int
    order_total: str | None
    """Amount of the line ("39.98"); None while Pending (Amazon shows no total yet)."""
    buyer: buyer.Buyer | None
    """The buyer, once the seller may see one (not while Pending or Canceled)."""

    @classmethod
    def of(cls, tx: Tx, order: Order) -> "OrderView":
        """Compute the view of ``order``."""
        customer = tx.customer(order.customer_id) if orders.buyer_visible(order) else None
        return cls._build(tx, order, None if customer is None else buyer.for_customer(customer))

    @classmethod
    def many(cls, tx: Tx, found: list[Order]) -> list["OrderView"]:
        """The views of several orders (one query for all their buyers, each derived once)."""
        wanted = {o.customer_id for o in found if orders.buyer_visible(o)}
        buyers = {cid: buyer.for_customer(c) for cid, c in tx.customers(sorted(wanted)).items()}
        return [
            cls._build(tx, o, buyers.get(o.customer_id) if orders.buyer_visible(o) else None)
            for o in found
        ]

    @classmethod
    def _build(cls, tx: Tx, order: Order, profile: buyer.Buyer | None) -> "OrderView":
        shipped = orders.quantity_shipped(tx, order)
        open_statuses = (orders.UNSHIPPED, orders.PARTIALLY_SHIPPED)
        return cls(
            order=order,
            drs_status=orders.drs_status(order),
            sales_channel=sales_channel(order.marketplace_id),
            order_channel="DashReplenishmentTest" if order.is_test else "DashReplenishment",
            items_shipped=shipped,
            items_unshipped=order.quantity - shipped if order.status in open_statuses else 0,
            order_total=None if order.status == orders.PENDING else orders.line_total(order),
            buyer=profile,
        )
