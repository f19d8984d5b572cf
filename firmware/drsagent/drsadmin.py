# DrsClient calls for the back office and provisioning (never made by the agent loop):
# loaded on use and unloaded again, so the device keeps their code out of its heap.
from drsagent import drs, errors, http

# The version header pairs of these endpoints (see drs.VERSION_HEADERS).
VERSION_HEADERS = {
    "subscriptionInfo": (
        "com.amazon.dash.replenishment.DrsSubscriptionInfoInput@1.0",
        "com.amazon.dash.replenishment.DrsSubscriptionInfoResult@2.0",
    ),
    "registration": (
        "com.amazon.dash.replenishment.DrsDeregisterInput@2.0",
        "com.amazon.dash.replenishment.DrsDeregisterResult@1.0",
    ),
    "testOrders": (
        "com.amazon.dash.replenishment.DrsCancelTestOrdersInput@1.0",
        "com.amazon.dash.replenishment.DrsCancelTestOrdersResult@1.0",
    ),
}


def _call(client, op, *args):
    """client._call(op, *args) with op's version pair known to drs for the call only."""
    drs.VERSION_HEADERS[op] = VERSION_HEADERS[op]
    try:
        return client._call(op, *args)
    finally:
        drs.VERSION_HEADERS.pop(op, None)


def subscription_info(client):
    """{slot_id: subscribed?} for every slot Amazon knows for this device."""
    d = _call(client, "subscriptionInfo", "GET").get("slotsSubscriptionStatus")
    if not isinstance(d, dict):
        raise errors.BadResponse("subscriptionInfo: no slotsSubscriptionStatus")
    for k in d:
        d[k] = isinstance(d[k], dict) and bool(d[k].get("subscribed"))
    return d


def deregister(client):
    """Deregister the device (revokes its tokens at Amazon)."""
    _call(client, "registration", "DELETE", "", None, False)


def cancel_test_orders(client, slot=None):
    """Cancel test orders -> [{slotId, orderStatus}]."""
    p = "" if slot is None else "/slots/" + http.quote(slot)
    d = _call(client, "testOrders", "DELETE", p).get("slotOrderStatuses")
    if not isinstance(d, list):
        raise errors.BadResponse("testOrders: no slotOrderStatuses")
    for i, it in enumerate(d):
        if not isinstance(it, dict):
            raise errors.BadResponse("testOrders: malformed entry")
        d[i] = {"slotId": it.get("slotId"), "orderStatus": it.get("orderStatus")}
    return d
