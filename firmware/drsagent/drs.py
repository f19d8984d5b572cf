# Dash Replenishment Service v1 client. One method per endpoint, each sending
# its exact version header pair; HTTP failures map onto drsagent.errors. No
# retry loops here (the agent schedules retries on its own clock), except one:
# a rejected access token is refreshed and the call repeated once.
from drsagent import errors, http, log
from drsagent.compat import run_once
from drsagent.timefmt import iso


def versions(op, name=None, v="11"):
    """The (x-amzn-type-version, x-amzn-accept-type) pair of an endpoint (DRS docs,
    contracts.md section 2): com.amazon.dash.replenishment.Drs<Name>Input@<v[0]>.0 and
    ...Drs<Name>Result@<v[1]>.0, where Name is op with a capital unless given."""
    name = "com.amazon.dash.replenishment.Drs" + (name or op[0].upper() + op[1:])
    return name + "Input@" + v[0] + ".0", name + "Result@" + v[1] + ".0"


class DrsClient:
    # Attributes (one letter: on the device every attribute name costs heap):
    #   u  base URL without a trailing "/";  t  the TokenManager
    #   w  timeout (s);  k  CA bundle (cadata) for https

    def __init__(self, url, tokens, timeout=10, cadata=None):
        self.u = url[:-1] if url[-1:] == "/" else url
        self.t = tokens
        self.w = timeout
        self.k = cadata

    def replenish(self, slot):
        """Place an order -> (detailCode, eventInstanceId or None). The caller
        checks detailCode (STANDARD_ORDER_PLACED, TEST_ORDER_PLACED, ORDER_INPROGRESS)."""
        d = self._call("replenish", "POST", "/" + http.quote(slot))
        e = d.get("eventInstanceId")
        return d.get("detailCode"), e if isinstance(e, str) and e else None

    def order_info(self, eid):
        """Items of an order as DRS sends them: [{asin, quantity, slotId, status,
        expectedDeliveryDate, ...}], each with a str status."""
        d = self._call("getOrderInfo", "GET", "/" + http.quote(eid), None, "OrderInfo")
        d = d.get("orderInfoData")
        d = d.get("orderItems") if isinstance(d, dict) else None
        if not isinstance(d, list):
            raise errors.BadResponse("getOrderInfo")
        for it in d:
            if not isinstance(it, dict) or not isinstance(it.get("status"), str):
                raise errors.BadResponse("getOrderInfo")
        return d

    def slot_status(
        self, slot, remaining, original, expected_replenish=None, last_use=None, on_hand=None
    ):
        """Report a slot's level (quantities in units, dates as epoch seconds)."""
        b = {
            "remainingQuantityInUnit": remaining,
            "originalQuantityInUnit": original,
            "totalQuantityOnHand": remaining if on_hand is None else on_hand,
        }
        if expected_replenish is not None:
            b["expectedReplenishmentDate"] = iso(expected_replenish)
        if last_use is not None:
            b["lastUseDate"] = iso(last_use)
        self._call("slotStatus", "POST", "/" + http.quote(slot), b, None, "11", False)

    def device_status(self, last_active, serial=None):
        """Daily heartbeat: the device's most recent activity (epoch seconds)."""
        b = {"mostRecentlyActiveDate": iso(last_active)}
        p = "" if serial is None else "/" + http.quote(serial)
        self._call("deviceStatus", "POST", p, b, None, "11", False)

    # Back-office calls the agent loop never makes: their code lives in drsadmin.py
    # and is only loaded (and then dropped) when one is used.

    def subscription_info(self):
        """{slot_id: subscribed?} for every slot Amazon knows for this device."""
        return run_once("drsadmin", "subscription_info", self)

    def deregister(self):
        """Deregister the device (revokes its tokens at Amazon)."""
        return run_once("drsadmin", "deregister", self)

    def cancel_test_orders(self, slot=None):
        """Cancel test orders -> [{slotId, orderStatus}]."""
        return run_once("drsadmin", "cancel_test_orders", self, slot)

    def _call(self, op, method, path="", body=None, name=None, v="11", j=True):
        # One call of endpoint op ("/<op><path>", versions(op, name, v)) -> its JSON
        # object (j) or None.
        v = versions(op, name, v)
        h = {"Authorization": "", "x-amzn-type-version": v[0], "x-amzn-accept-type": v[1]}
        v = None
        path = self.u + "/" + op + path
        for i in (0, 1):
            try:
                h["Authorization"] = "Bearer " + self.t.token()
            except errors.DrsError as e:
                if isinstance(e, errors.AuthError):
                    raise  # dead credentials: re-provision (nothing was sent either)
                raise errors.NotSent("%s: %s" % (op, e))  # the DRS request never left
            r = http.request(method, path, h, body, timeout=self.w, cadata=self.k)
            s = r[0]
            if 199 < s < 300:
                if not j:
                    return None
                r = http.load(r)
                if not isinstance(r, dict):
                    raise errors.BadResponse(op)
                return r
            m = ""
            if s == 400:
                # DRS error bodies are {"message": "..."}: keep a short, scrubbed copy.
                try:
                    m = log.scrub(http.load(r)["message"][:100])
                except (errors.BadResponse, KeyError, TypeError):
                    pass
                e = errors.BadRequest
                # x-amzn-ErrorType: InvalidTokenException[:...] and/or "Invalid token"
                if r[1].get("x-amzn-errortype", "")[:12] == "InvalidToken" or (
                    "invalid token" in m.lower()
                ):
                    # The token expired or was revoked early: refresh once, then give up.
                    self.t.invalidate()
                    e = errors.InvalidToken
                    if not i:
                        log.warn("%s HTTP %d %s" % (op, s, m or "InvalidToken"))
                        continue
            elif s == 404:
                e = errors.UnknownSlot
            elif s == 429:
                e = errors.Throttled
            elif s > 499:
                e = errors.ServerError
            else:
                e = errors.BadResponse
            raise e("%s HTTP %d %s" % (op, s, m))
