# DrsClient calls for the back office and provisioning (never made by the agent loop):
# loaded on use and unloaded again, so the device keeps their code out of its heap.
from drsagent import errors, http


def subscription_info(c):
    """{slot_id: subscribed?} for every slot Amazon knows for this device."""
    d = c._call("subscriptionInfo", "GET", "/subscriptionInfo")
    slots = d.get("slotsSubscriptionStatus")
    if not isinstance(slots, dict):
        raise errors.BadResponse("subscriptionInfo: no slotsSubscriptionStatus")
    out = {}
    for sid in slots:
        v = slots[sid]
        out[sid] = bool(v.get("subscribed")) if isinstance(v, dict) else False
    return out


def deregister(c):
    """Deregister the device (revokes its tokens at Amazon)."""
    c._call("registration", "DELETE", "/registration", None, False)


def cancel_test_orders(c, slot_id=None):
    """Cancel test orders -> [{slotId, orderStatus}]."""
    path = "/testOrders" if slot_id is None else "/testOrders/slots/" + http.quote(slot_id)
    d = c._call("testOrders", "DELETE", path)
    lst = d.get("slotOrderStatuses")
    if not isinstance(lst, list):
        raise errors.BadResponse("testOrders: no slotOrderStatuses")
    out = []
    for it in lst:
        if not isinstance(it, dict):
            raise errors.BadResponse("testOrders: malformed entry")
        out.append({"slotId": it.get("slotId"), "orderStatus": it.get("orderStatus")})
    return out
