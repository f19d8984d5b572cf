# Dash Replenishment Service v1 client. One method per endpoint, each sending
# its exact version header pair; HTTP failures map onto drsagent.errors. No
# retry loops here (the agent schedules retries on its own clock), except one:
# a rejected access token is refreshed and the call repeated once.
from drsagent import errors, http, log
from drsagent.timefmt import iso

# Each endpoint's exact (x-amzn-type-version, x-amzn-accept-type) pair (DRS docs,
# contracts.md section 2): fixed strings, looked up per request, never built. The
# back-office endpoints' pairs live in drsadmin.py: each pair kept here costs the
# loop's heap about 380 bytes.
VERSION_HEADERS = {
    "replenish": (
        "com.amazon.dash.replenishment.DrsReplenishInput@1.0",
        "com.amazon.dash.replenishment.DrsReplenishResult@1.0",
    ),
    "getOrderInfo": (
        "com.amazon.dash.replenishment.DrsOrderInfoInput@1.0",
        "com.amazon.dash.replenishment.DrsOrderInfoResult@1.0",
    ),
    "slotStatus": (
        "com.amazon.dash.replenishment.DrsSlotStatusInput@1.0",
        "com.amazon.dash.replenishment.DrsSlotStatusResult@1.0",
    ),
    "deviceStatus": (
        "com.amazon.dash.replenishment.DrsDeviceStatusInput@1.0",
        "com.amazon.dash.replenishment.DrsDeviceStatusResult@1.0",
    ),
}


class DrsClient:
    def __init__(self, url, tokens, timeout=10, cadata=None):
        self.url = url[:-1] if url[-1:] == "/" else url
        self.tokens = tokens
        self.timeout = timeout
        self.cadata = cadata  # CA bundle for https

    def replenish(self, slot):
        """Place an order -> (detailCode, eventInstanceId or None). The caller
        checks detailCode (STANDARD_ORDER_PLACED, TEST_ORDER_PLACED, ORDER_INPROGRESS)."""
        answer = self._call("replenish", "POST", "/" + http.quote(slot))
        event_id = answer.get("eventInstanceId")
        if not (isinstance(event_id, str) and event_id):
            event_id = None
        return answer.get("detailCode"), event_id

    def order_info(self, eid):
        """Items of an order as DRS sends them: [{asin, quantity, slotId, status,
        expectedDeliveryDate, ...}], each with a str status. errors.UnknownOrder when
        Amazon does not know the eventInstanceId (or it is another device's)."""
        try:
            d = self._call("getOrderInfo", "GET", "/" + http.quote(eid))
        except (errors.BadRequest, errors.UnknownSlot) as e:
            # DRS answers 400 {"message"} here (seed 000 lists only 400 and 500 for
            # this endpoint); 404 is what older emulators and proxies send.
            raise errors.UnknownOrder(str(e)) from None
        d = d.get("orderInfoData")
        d = d.get("orderItems") if isinstance(d, dict) else None
        if not isinstance(d, list):
            raise errors.BadResponse("getOrderInfo")
        for it in d:
            if not isinstance(it, dict) or not isinstance(it.get("status"), str):
                raise errors.BadResponse("getOrderInfo")
        return d

    def slot_status(self, slot, remaining, original, expected_replenish, last_use):
        """Report a slot's level (quantities in units, dates as epoch seconds). DRS wants
        every field; the quantity on hand is what remains."""
        b = {
            "remainingQuantityInUnit": remaining,
            "originalQuantityInUnit": original,
            "totalQuantityOnHand": remaining,
            "expectedReplenishmentDate": iso(expected_replenish),
            "lastUseDate": iso(last_use),
        }
        self._call("slotStatus", "POST", "/" + http.quote(slot), b, False)

    def device_status(self, last_active, serial):
        """Daily heartbeat: the device's most recent activity (epoch seconds)."""
        b = {"mostRecentlyActiveDate": iso(last_active)}
        self._call("deviceStatus", "POST", "/" + http.quote(serial), b, False)

    # Back-office calls the agent loop never makes (subscriptionInfo, deregistration,
    # cancelling test orders) are functions of drsadmin.py taking the client, called
    # through compat.run_once: their code and names stay out of the heap until used.

    def token(self, op):
        """An access token for a call of op. Without one the call never leaves the
        device: errors.NotSent, or errors.AuthError for dead credentials."""
        try:
            return self.tokens.token()
        except errors.DrsError as e:
            if isinstance(e, errors.AuthError):
                raise  # dead credentials: re-provision (nothing was sent either)
            raise errors.NotSent("%s: %s" % (op, e)) from None

    def _call(self, op, method, path="", body=None, json=True):
        # One call of endpoint op ("/<op><path>") -> its JSON object, or None when
        # json is False.
        type_version, accept_type = VERSION_HEADERS[op]
        for attempt in (0, 1):
            # The token first: a refresh parses LwA's answer with nothing of this call
            # in RAM yet (headers, URL).
            bearer = "Bearer " + self.token(op)
            headers = {
                "Authorization": bearer,
                "x-amzn-type-version": type_version,
                "x-amzn-accept-type": accept_type,
            }
            status, response_headers, response_body = http.request(
                method,
                self.url + "/" + op + path,
                headers,
                body,
                timeout=self.timeout,
                cadata=self.cadata,
            )
            if 199 < status < 300:
                if not json:
                    return None
                answer = http.parse_json(response_body)
                if not isinstance(answer, dict):
                    raise errors.BadResponse(op)
                return answer
            m = ""
            if status == 400:
                # DRS error bodies are {"message": "..."}: keep a short, scrubbed copy.
                try:
                    m = log.scrub(http.parse_json(response_body)["message"][:100])
                except (errors.BadResponse, KeyError, TypeError):
                    pass
                e = errors.BadRequest
                # x-amzn-ErrorType: InvalidTokenException[:...] and/or "Invalid token"
                if response_headers.get("x-amzn-errortype", "")[:12] == "InvalidToken" or (
                    "invalid token" in m.lower()
                ):
                    # The token expired or was revoked early: refresh once, then give up.
                    self.tokens.invalidate()
                    e = errors.InvalidToken
                    if not attempt:
                        log.warn("%s HTTP %d %s" % (op, status, m or "InvalidToken"))
                        continue
            elif status == 404:
                e = errors.UnknownSlot
            elif status == 429:
                e = errors.Throttled
            elif status > 499:
                e = errors.ServerError
            else:
                e = errors.BadResponse
            raise e("%s HTTP %d %s" % (op, status, m))
