# DrsClient calls for the back office and provisioning (never made by the agent loop):
# loaded on use and unloaded again, so the device keeps their code out of its heap.
from drsagent import errors, http


def subscription_info(client):
    """{slot_id: subscribed?} for every slot Amazon knows for this device."""
    d = client._call("subscriptionInfo", "GET").get("slotsSubscriptionStatus")
    if not isinstance(d, dict):
        raise errors.BadResponse("subscriptionInfo: no slotsSubscriptionStatus")
    for k in d:
        d[k] = isinstance(d[k], dict) and bool(d[k].get("subscribed"))
    return d


def deregister(client):
    """Deregister the device (revokes its tokens at Amazon)."""
    client._call("registration", "DELETE", "", None, False)


def cancel_test_orders(client, slot=None):
    """Cancel test orders -> [{slotId, orderStatus}]."""
    p = "" if slot is None else "/slots/" + http.quote(slot)
    d = client._call("testOrders", "DELETE", p).get("slotOrderStatuses")
    if not isinstance(d, list):
        raise errors.BadResponse("testOrders: no slotOrderStatuses")
    for i, it in enumerate(d):
        if not isinstance(it, dict):
            raise errors.BadResponse("testOrders: malformed entry")
        d[i] = {"slotId": it.get("slotId"), "orderStatus": it.get("orderStatus")}
    return d
