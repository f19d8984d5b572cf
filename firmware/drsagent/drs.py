# Dash Replenishment Service v1 client. One method per endpoint, each sending
# its exact version header pair; HTTP failures map onto drsagent.errors. No
# retry loops here (the agent schedules retries on its own clock), except one:
# a rejected access token is refreshed and the call repeated once.
from drsagent import errors, http, log
from drsagent.compat import run_once
from drsagent.timefmt import iso

_NS = "com.amazon.dash.replenishment.Drs"

# op -> (x-amzn-type-version, x-amzn-accept-type) without the common
# "com.amazon.dash.replenishment.Drs" prefix (DRS docs, contracts.md section 2).
# Short strings stay interned; the full header value is built per call.
VERSIONS = {
    "replenish": ("ReplenishInput@1.0", "ReplenishResult@1.0"),
    "getOrderInfo": ("OrderInfoInput@1.0", "OrderInfoResult@1.0"),
    "slotStatus": ("SlotStatusInput@1.0", "SlotStatusResult@1.0"),
    "deviceStatus": ("DeviceStatusInput@1.0", "DeviceStatusResult@1.0"),
    "subscriptionInfo": ("SubscriptionInfoInput@1.0", "SubscriptionInfoResult@2.0"),
    "registration": ("DeregisterInput@2.0", "DeregisterResult@1.0"),
    "testOrders": ("CancelTestOrdersInput@1.0", "CancelTestOrdersResult@1.0"),
}


DETAIL_CODES = ("STANDARD_ORDER_PLACED", "TEST_ORDER_PLACED", "ORDER_INPROGRESS")
_ITEM_KEYS = ("asin", "quantity", "slotId", "status", "expectedDeliveryDate")


class DrsClient:
    def __init__(self, base_url, tokens, timeout=10, cadata=None, request=http.request):
        self._base = base_url[:-1] if base_url.endswith("/") else base_url
        self._tokens = tokens
        self._timeout = timeout
        self._cadata = cadata
        self._request = request

    # -- endpoints ---------------------------------------------------------

    def replenish(self, slot_id):
        """Place an order -> (detailCode, eventInstanceId or None)."""
        d = self._call("replenish", "POST", "/replenish/" + http.quote(slot_id))
        code = d.get("detailCode")
        if code not in DETAIL_CODES:
            raise errors.BadResponse("replenish: unexpected detailCode")
        eid = d.get("eventInstanceId")
        if not isinstance(eid, str) or not eid:
            eid = None
        return code, eid

    def order_info(self, eid):
        """Items of an order: [{asin, quantity, slotId, status, expectedDeliveryDate}]."""
        d = self._call("getOrderInfo", "GET", "/getOrderInfo/" + http.quote(eid))
        info = d.get("orderInfoData")
        items = info.get("orderItems") if isinstance(info, dict) else None
        if not isinstance(items, list):
            raise errors.BadResponse("getOrderInfo: no orderItems")
        out = []
        for it in items:
            if not isinstance(it, dict) or not isinstance(it.get("status"), str):
                raise errors.BadResponse("getOrderInfo: malformed order item")
            item = {}
            for k in _ITEM_KEYS:
                item[k] = it.get(k)
            out.append(item)
        return out

    def slot_status(
        self, slot_id, remaining, original, expected_replenish=None, last_use=None, on_hand=None
    ):
        """Report a slot's level (quantities in units, dates as epoch seconds)."""
        body = {
            "remainingQuantityInUnit": remaining,
            "originalQuantityInUnit": original,
            "totalQuantityOnHand": remaining if on_hand is None else on_hand,
        }
        if expected_replenish is not None:
            body["expectedReplenishmentDate"] = iso(expected_replenish)
        if last_use is not None:
            body["lastUseDate"] = iso(last_use)
        self._call("slotStatus", "POST", "/slotStatus/" + http.quote(slot_id), body, False)

    def device_status(self, last_active, serial=None):
        """Daily heartbeat: the device's most recent activity (epoch seconds)."""
        path = "/deviceStatus" if serial is None else "/deviceStatus/" + http.quote(serial)
        body = {"mostRecentlyActiveDate": iso(last_active)}
        self._call("deviceStatus", "POST", path, body, False)

    # Back-office calls the agent loop never makes: their code lives in drsadmin.py
    # and is only loaded (and then dropped) when one is used.

    def subscription_info(self):
        """{slot_id: subscribed?} for every slot Amazon knows for this device."""
        return _admin("subscription_info", self)

    def deregister(self):
        """Deregister the device (revokes its tokens at Amazon)."""
        return _admin("deregister", self)

    def cancel_test_orders(self, slot_id=None):
        """Cancel test orders -> [{slotId, orderStatus}]."""
        return _admin("cancel_test_orders", self, slot_id)

    # -- plumbing ----------------------------------------------------------

    def _call(self, op, method, path, body=None, want_json=True):
        tv, at = VERSIONS[op]
        tv = _NS + tv
        at = _NS + at
        url = self._base + path
        for attempt in (0, 1):
            headers = {
                "Authorization": "Bearer " + self._tokens.token(),
                "x-amzn-type-version": tv,
                "x-amzn-accept-type": at,
            }
            resp = self._request(
                method, url, headers=headers, body=body, timeout=self._timeout, cadata=self._cadata
            )
            headers = None
            status = resp.status
            if 200 <= status < 300:
                if not want_json:
                    return None
                d = resp.json()
                if not isinstance(d, dict):
                    raise errors.BadResponse(op + ": response is not a JSON object")
                return d
            if status == 400 and (
                resp.headers.get("x-amzn-errortype", "").startswith("InvalidTokenException")
                or "invalid token" in _message(resp).lower()
            ):
                # The token expired or was revoked early: refresh once, then give up.
                self._tokens.invalidate()
                if attempt == 0:
                    log.warn("drs: " + op + ": invalid token, refreshing once")
                    resp = None
                    continue
                raise errors.InvalidToken(op + ": DRS rejected a freshly refreshed token")
            _raise_for(op, status, resp)
        raise errors.InvalidToken(op)  # pragma: no cover - loop always returns or raises


def _admin(fn, *args):
    return run_once("drsadmin", fn, *args)


def _message(resp):
    # DRS error bodies are {"message": "..."}; keep a short, scrubbed copy.
    try:
        d = resp.json()
    except errors.BadResponse:
        return ""
    m = d.get("message") if isinstance(d, dict) else None
    if not isinstance(m, str):
        return ""
    return log.scrub(m[:100])


def _raise_for(op, status, resp):
    if status == 400:
        m = _message(resp)
        raise errors.BadRequest(op + ": HTTP 400" + (": " + m if m else ""))
    if status == 404:
        raise errors.UnknownSlot(op + ": HTTP 404 (unknown slot or order)")
    if status == 429:
        raise errors.Throttled(op + ": HTTP 429")
    if status >= 500:
        raise errors.ServerError(op + ": HTTP %d" % status)
    raise errors.BadResponse(op + ": unexpected HTTP %d" % status)
