"""SP-API renderings of an order: ``Order`` and ``OrderItem`` of an ``OrderView``."""

from typing import Any

from .. import clock
from ..order_view import OrderView
from .dispatch import Ctx


def variant(ctx: Ctx) -> int:
    """Which rendering of an ``Order`` the call gets: the data elements it depends on.

    :func:`order_json` depends on nothing else of the call, nor on the clock: an
    order's encoded rendering in a variant is kept until the order changes.
    """
    return ("shippingAddress" in ctx.elements) + 2 * ("buyerInfo" in ctx.elements)


def order_json(ctx: Ctx, view: OrderView) -> dict[str, Any]:
    """Return the SP-API ``Order`` (PII per the RDT's data elements, see :func:`variant`)."""
    order = view.order
    rendered: dict[str, Any] = {
        "AmazonOrderId": order.amazon_order_id,
        "SellerOrderId": order.amazon_order_id,
        "PurchaseDate": clock.iso(order.created_at),
        "LastUpdateDate": clock.iso(order.updated_at),
        "OrderStatus": order.status,
        "FulfillmentChannel": order.fulfillment_channel,
        "SalesChannel": view.sales_channel,
        "OrderChannel": view.order_channel,
        "ShipServiceLevel": order.ship_service_level,
        "NumberOfItemsShipped": view.items_shipped,
        "NumberOfItemsUnshipped": view.items_unshipped,
        "PaymentMethod": "Other",
        "PaymentMethodDetails": ["Standard"],
        "MarketplaceId": order.marketplace_id,
        "ShipmentServiceLevelCategory": "Standard",
        "OrderType": "StandardOrder",
        "EarliestShipDate": clock.iso(order.created_at),
        "LatestShipDate": clock.iso(order.expected_delivery),
        "IsBusinessOrder": False,
        "IsPrime": False,
        "IsPremiumOrder": False,
        "IsGlobalExpressEnabled": False,
        "IsReplacementOrder": False,
        "IsSoldByAB": False,
        "IsISPU": False,
        "IsAccessPointOrder": False,
        "HasRegulatedItems": order.has_regulated_items,
        "AutomatedShippingSettings": {"HasAutomatedShippingSettings": False},
        "BuyerInfo": {},
    }
    if view.order_total is not None:
        rendered["OrderTotal"] = {"CurrencyCode": order.currency, "Amount": view.order_total}
    if view.buyer is not None:
        rendered["EarliestDeliveryDate"] = clock.iso(order.expected_delivery)
        rendered["LatestDeliveryDate"] = clock.iso(order.expected_delivery + 86399)
        rendered["ShippingAddress"] = view.buyer.address("shippingAddress" in ctx.elements)
        if "buyerInfo" in ctx.elements:
            rendered["BuyerInfo"] = view.buyer.info()
    return rendered


def item_json(ctx: Ctx, view: OrderView) -> dict[str, Any]:
    """Return the SP-API ``OrderItem`` of a DRS order's single line."""
    order = view.order
    cancel_requested = order.cancel_reason == "BuyerCanceled"
    item: dict[str, Any] = {
        "ASIN": order.asin,
        "SellerSKU": order.seller_sku,
        "OrderItemId": order.order_item_id,
        "Title": order.title,
        "QuantityOrdered": order.quantity,
        "QuantityShipped": view.items_shipped,
        "ProductInfo": {"NumberOfItems": "1"},
        "IsGift": "false",
        "ConditionId": "New",
        "ConditionSubtypeId": "New",
        "IsTransparency": False,
        "SerialNumberRequired": False,
        "BuyerRequestedCancel": {
            "IsBuyerRequestedCancel": "true" if cancel_requested else "false",
            "BuyerCancelReason": "Customer canceled" if cancel_requested else "",
        },
    }
    if view.order_total is not None:  # no pricing while Pending (see the model)
        zero = {"CurrencyCode": order.currency, "Amount": "0.00"}
        item.update(
            ItemPrice={"CurrencyCode": order.currency, "Amount": view.order_total},
            ItemTax=zero,
            ShippingPrice=zero,
            PromotionDiscount=zero,
            PromotionDiscountTax=zero,
        )
    if "buyerInfo" in ctx.elements:
        item["BuyerInfo"] = {}
    return item
