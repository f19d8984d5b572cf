import json

import pytest
from drsagent import drs, drsadmin, errors
from drsagent.drs import DrsClient
from script_server import json_reply, needs_micropython, reply

from host_tests.fake_tokens import ACCESS, REFRESH

NS = "com.amazon.dash.replenishment."
INVALID = json_reply(
    400, {"message": "Invalid token"}, {"x-amzn-ErrorType": "InvalidTokenException"}
)


class Tokens:
    """TokenManager stand-in: hands out fake access tokens t1, t2, ... and counts invalidations."""

    def __init__(self):
        self.n = 0
        self.current = None
        self.invalidated = 0

    def token(self):
        if self.current is None:
            self.n += 1
            self.current = f"{ACCESS}t{self.n}"
        return self.current

    def invalidate(self):
        self.invalidated += 1
        self.current = None


@pytest.fixture
def tokens():
    return Tokens()


@pytest.fixture
def client(server, tokens):
    return DrsClient(server.url + "/", tokens, timeout=2)


def assert_versions(req, type_version, accept_type):
    assert req.headers["x-amzn-type-version"] == NS + type_version
    assert req.headers["x-amzn-accept-type"] == NS + accept_type


def test_version_pairs_match_the_contract():
    """The loop's endpoints in drs, the back-office ones in drsadmin (loaded on use)."""
    assert drs.VERSION_HEADERS | drsadmin.VERSION_HEADERS == {
        "replenish": (NS + "DrsReplenishInput@1.0", NS + "DrsReplenishResult@1.0"),
        "getOrderInfo": (NS + "DrsOrderInfoInput@1.0", NS + "DrsOrderInfoResult@1.0"),
        "slotStatus": (NS + "DrsSlotStatusInput@1.0", NS + "DrsSlotStatusResult@1.0"),
        "deviceStatus": (NS + "DrsDeviceStatusInput@1.0", NS + "DrsDeviceStatusResult@1.0"),
        "subscriptionInfo": (
            NS + "DrsSubscriptionInfoInput@1.0",
            NS + "DrsSubscriptionInfoResult@2.0",
        ),
        "registration": (NS + "DrsDeregisterInput@2.0", NS + "DrsDeregisterResult@1.0"),
        "testOrders": (NS + "DrsCancelTestOrdersInput@1.0", NS + "DrsCancelTestOrdersResult@1.0"),
    }
    assert set(drs.VERSION_HEADERS) == {"replenish", "getOrderInfo", "slotStatus", "deviceStatus"}


@pytest.mark.parametrize("code", ["STANDARD_ORDER_PLACED", "TEST_ORDER_PLACED", "ORDER_INPROGRESS"])
def test_replenish(server, client, code):
    server.add(json_reply(200, {"eventInstanceId": "amzn1.dash.v2.o.abc", "detailCode": code}))
    assert client.replenish("toner black/1") == (code, "amzn1.dash.v2.o.abc")
    req = server.requests[0]
    assert (req.method, req.path) == ("POST", "/replenish/toner%20black%2F1")
    assert req.headers["authorization"] == f"Bearer {ACCESS}t1"
    assert_versions(req, "DrsReplenishInput@1.0", "DrsReplenishResult@1.0")
    assert req.headers["content-length"] == "0"


def test_replenish_inprogress_without_eid(server, client):
    server.add(json_reply(200, {"detailCode": "ORDER_INPROGRESS"}))
    assert client.replenish("s") == ("ORDER_INPROGRESS", None)


def test_replenish_passes_unknown_codes_to_the_caller(server, client):
    # The slot machine judges detailCode (an unknown one is a transient BadResponse there).
    server.add(
        json_reply(200, {"eventInstanceId": "e1"}),
        json_reply(200, {"eventInstanceId": "e1", "detailCode": "ORDER_MAYBE"}),
    )
    assert client.replenish("s") == (None, "e1")
    assert client.replenish("s") == ("ORDER_MAYBE", "e1")


@pytest.mark.parametrize(
    "raw",
    [
        json_reply(200, ["STANDARD_ORDER_PLACED"]),
        reply(200, b'{"eventInstanceId" : "SOME_EVENT_INSTANCE" "detailCode" : "X"}'),
        reply(200, b""),
    ],
    ids=["list", "bad-json", "empty"],
)
def test_replenish_malformed(server, client, raw):
    server.add(raw)
    with pytest.raises(errors.BadResponse):
        client.replenish("s")


def test_order_info(server, client):
    server.add(
        json_reply(
            200,
            {
                "orderInfoData": {
                    "instanceId": "amzn1.dash.v2.o.abc",
                    "orderItems": [
                        {
                            "asin": "B0001",
                            "expectedDeliveryDate": "2017-01-05T07:59:59.000Z",
                            "quantity": 1,
                            "slotId": "PaperTowel",
                            "status": "Pending",
                            "extra": "dropped",
                        }
                    ],
                }
            },
        )
    )
    items = client.order_info("amzn1.dash.v2.o.abc")
    assert items == [
        {
            "asin": "B0001",
            "quantity": 1,
            "slotId": "PaperTowel",
            "status": "Pending",
            "expectedDeliveryDate": "2017-01-05T07:59:59.000Z",
            "extra": "dropped",  # items come as DRS sends them
        }
    ]
    req = server.requests[0]
    assert (req.method, req.path) == ("GET", "/getOrderInfo/amzn1.dash.v2.o.abc")
    assert_versions(req, "DrsOrderInfoInput@1.0", "DrsOrderInfoResult@1.0")


@pytest.mark.parametrize(
    "raw",
    [
        # what DRS answers (seed 000 lists only 400 and 500 for getOrderInfo) ...
        json_reply(400, {"message": "Invalid eventInstanceId"}),
        # ... and what older emulators answered
        json_reply(404, {"message": "order not found"}),
    ],
)
def test_order_info_unknown_order(server, client, tokens, raw):
    server.add(raw)
    with pytest.raises(errors.UnknownOrder) as ei:
        client.order_info("amzn1.dash.v2.o.gone")
    assert ei.value.transient is False
    assert tokens.invalidated == 0
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"orderInfoData": {}},
        {"orderInfoData": {"orderItems": [{"asin": "x"}]}},
        {"orderInfoData": []},
    ],
)
def test_order_info_malformed(server, client, body):
    server.add(json_reply(200, body))
    with pytest.raises(errors.BadResponse):
        client.order_info("e")


def test_slot_status(server, client):
    server.add(reply(200, b""))
    assert (
        client.slot_status("toner", 0.25, 1.0, expected_replenish=1767225600, last_use=1767139200)
        is None
    )
    req = server.requests[0]
    assert (req.method, req.path) == ("POST", "/slotStatus/toner")
    assert_versions(req, "DrsSlotStatusInput@1.0", "DrsSlotStatusResult@1.0")
    assert json.loads(req.body) == {
        "expectedReplenishmentDate": "2026-01-01T00:00:00Z",
        "remainingQuantityInUnit": 0.25,
        "originalQuantityInUnit": 1.0,
        "totalQuantityOnHand": 0.25,
        "lastUseDate": "2025-12-31T00:00:00Z",
    }
    assert req.headers["content-type"] == "application/json"


def test_device_status(server, client):
    server.add(reply(200, b""))
    client.device_status(1767225601, "PRN 1")
    (r,) = server.requests
    assert (r.method, r.path) == ("POST", "/deviceStatus/PRN%201")
    assert json.loads(r.body) == {"mostRecentlyActiveDate": "2026-01-01T00:00:01Z"}
    assert_versions(r, "DrsDeviceStatusInput@1.0", "DrsDeviceStatusResult@1.0")


def test_subscription_info(server, client):
    server.add(
        json_reply(
            200,
            {
                "slotsSubscriptionStatus": {
                    "toner-black": {
                        "subscribed": True,
                        "productInfoList": [{"asin": "B1", "quantity": 1, "unit": "count"}],
                    },
                    "toner-cyan": {"subscribed": False},
                }
            },
        ),
        json_reply(200, {"slots": {}}),
    )
    assert drsadmin.subscription_info(client) == {"toner-black": True, "toner-cyan": False}
    req = server.requests[0]
    assert (req.method, req.path) == ("GET", "/subscriptionInfo")
    assert_versions(req, "DrsSubscriptionInfoInput@1.0", "DrsSubscriptionInfoResult@2.0")
    with pytest.raises(errors.BadResponse):
        drsadmin.subscription_info(client)


def test_deregister(server, client):
    server.add(reply(200, b""))
    assert drsadmin.deregister(client) is None
    req = server.requests[0]
    assert (req.method, req.path) == ("DELETE", "/registration")
    assert_versions(req, "DrsDeregisterInput@2.0", "DrsDeregisterResult@1.0")


def test_cancel_test_orders(server, client):
    statuses = [
        {"orderStatus": "CANCELLED", "slotId": "a"},
        {"orderStatus": "NO_ORDER_IN_PROGRESS", "slotId": "b"},
    ]
    server.add(
        json_reply(200, {"slotOrderStatuses": statuses}),
        json_reply(200, {"slotOrderStatuses": statuses[:1]}),
        json_reply(200, {"nothing": 1}),
    )
    assert drsadmin.cancel_test_orders(client) == [
        {"slotId": "a", "orderStatus": "CANCELLED"},
        {"slotId": "b", "orderStatus": "NO_ORDER_IN_PROGRESS"},
    ]
    assert drsadmin.cancel_test_orders(client, "a") == [{"slotId": "a", "orderStatus": "CANCELLED"}]
    a, b, _ = server.requests if len(server.requests) == 3 else (*server.requests, None)
    assert (a.method, a.path) == ("DELETE", "/testOrders")
    assert (b.method, b.path) == ("DELETE", "/testOrders/slots/a")
    assert_versions(a, "DrsCancelTestOrdersInput@1.0", "DrsCancelTestOrdersResult@1.0")
    with pytest.raises(errors.BadResponse):
        drsadmin.cancel_test_orders(client)


# -- invalid token: one refresh, one retry ------------------------------------------------


@pytest.mark.parametrize(
    "rejection",
    [
        INVALID,
        json_reply(400, {"message": "Invalid token"}),  # body only
        json_reply(400, {"message": "x"}, {"x-amzn-ErrorType": "InvalidTokenException:http://a/"}),
    ],
    ids=["both", "body", "header"],
)
def test_invalid_token_is_refreshed_and_retried_once(server, client, tokens, rejection):
    server.add(
        rejection, json_reply(200, {"eventInstanceId": "e9", "detailCode": "STANDARD_ORDER_PLACED"})
    )
    assert client.replenish("s") == ("STANDARD_ORDER_PLACED", "e9")
    assert tokens.invalidated == 1
    assert [r.headers["authorization"] for r in server.requests] == [
        f"Bearer {ACCESS}t1",
        f"Bearer {ACCESS}t2",
    ]
    assert server.requests[0].path == server.requests[1].path == "/replenish/s"


def test_invalid_token_twice_raises(server, client, tokens):
    server.add(INVALID, INVALID, reply(200, b""))
    with pytest.raises(errors.InvalidToken) as ei:
        client.slot_status("s", 1, 2, 0, 0)
    assert ACCESS not in str(ei.value)
    assert len(server.requests) == 2  # no third attempt
    assert tokens.invalidated == 2  # the second bad token is not kept either


def test_token_refresh_failure_propagates(server, tokens):
    class Dead(Tokens):
        def token(self):
            raise errors.AuthError("LwA refused the credentials: invalid_grant")

    with pytest.raises(errors.AuthError):
        DrsClient(server.url, Dead()).replenish("s")
    assert server.requests == []


@pytest.mark.parametrize(
    ("raw", "exc", "transient"),
    [
        (
            json_reply(400, {"message": "Missing x-amzn-type-version header"}),
            errors.BadRequest,
            False,
        ),
        (json_reply(404, {"message": "slot not found"}), errors.UnknownSlot, False),
        (reply(429, b""), errors.Throttled, True),
        (json_reply(500, {"message": "boom"}), errors.ServerError, True),
        (reply(503, b"<html>down</html>"), errors.ServerError, True),
        (reply(302, b"", {"Location": "http://x/"}), errors.BadResponse, True),
    ],
)
def test_status_mapping(server, client, tokens, raw, exc, transient):
    server.add(raw)
    with pytest.raises(exc) as ei:
        client.replenish("s")
    assert type(ei.value) is exc
    assert ei.value.transient is transient
    assert len(server.requests) == 1  # no retries inside the client
    assert tokens.invalidated == 0


def test_bad_request_message_is_kept_and_scrubbed(server, client):
    server.add(json_reply(400, {"message": f"Bad header near Bearer {ACCESS}t1"}))
    with pytest.raises(errors.BadRequest) as ei:
        client.replenish("s")
    assert "Bad header near Bearer ***" in str(ei.value)
    assert f"{ACCESS}t1" not in str(ei.value)


def test_network_errors_pass_through(silent_port, tokens):
    c = DrsClient(f"http://127.0.0.1:{silent_port}", tokens, timeout=0.3)
    with pytest.raises(errors.NetworkError):
        drsadmin.subscription_info(c)


def test_https_client_uses_cadata(tls_server, tls_material, tokens):
    tls_server.add(json_reply(200, {"eventInstanceId": "e", "detailCode": "TEST_ORDER_PLACED"}))
    c = DrsClient(tls_server.url, tokens, cadata=tls_material["ca_pem"])
    assert c.replenish("s") == ("TEST_ORDER_PLACED", "e")
    with pytest.raises(errors.NetworkError):
        DrsClient(tls_server.url, tokens).replenish("s")


# -- MicroPython: refresh + replenish + getOrderInfo in a small heap ------------------------


FLOW = """
import gc, json
from drsagent import compat, errors, log, timefmt, backoff, http
from drsagent.lwa import TokenManager
from drsagent.drs import DrsClient
class Clock:
    def now(self):
        return 1767225600
lines = []
log.set_log_sink(lines.append)
secrets = {"lwa": {"client_id": "cid", "client_secret": "csecret-1",
                   "refresh_token": REFRESH + "r1"}}
tm = TokenManager(URL + "/auth/o2/token", secrets, lambda s: None, Clock(), cadata=CA)
c = DrsClient(URL, tm, cadata=CA)
gc.collect()
free0 = gc.mem_free()
r = {"replenish": c.replenish("toner-black")}
r["items"] = c.order_info(r["replenish"][1])
try:
    c.replenish("toner-black")
except errors.InvalidToken as e:
    r["invalid"] = str(e)
gc.collect()
r["free0"] = free0
r["free1"] = gc.mem_free()
r["log"] = lines
print(json.dumps(r))
"""


# LwA access and refresh tokens are at least 350 characters: the heap flows hold
# tokens of that size, not short stand-ins.
PAYLOAD = "x" * 400


def _flow_script(server, cadata=None):
    server.add(
        json_reply(200, {"access_token": f"{ACCESS}a1{PAYLOAD}", "expires_in": 3600}),
        json_reply(200, {"eventInstanceId": "amzn1.e1", "detailCode": "STANDARD_ORDER_PLACED"}),
        json_reply(
            200,
            {
                "orderInfoData": {
                    "instanceId": "amzn1.e1",
                    "orderItems": [
                        {
                            "asin": "B1",
                            "quantity": 2,
                            "slotId": "toner-black",
                            "status": "Authorized",
                            "expectedDeliveryDate": "2026-01-03T00:00:00Z",
                        }
                    ],
                }
            },
        ),
        INVALID,
        json_reply(200, {"access_token": f"{ACCESS}a2{PAYLOAD}", "expires_in": 3600}),
        INVALID,
    )
    return f"URL = {server.url!r}\nCA = {cadata!r}\nREFRESH = {REFRESH + PAYLOAD!r}\n" + FLOW


def _check_flow(server, r):
    assert r["replenish"] == ["STANDARD_ORDER_PLACED", "amzn1.e1"]
    assert r["items"][0]["status"] == "Authorized" and r["items"][0]["quantity"] == 2
    assert "Atza" not in r["invalid"]
    paths = [q.path for q in server.requests]
    assert paths == [
        "/auth/o2/token",
        "/replenish/toner-black",
        "/getOrderInfo/amzn1.e1",
        "/replenish/toner-black",
        "/auth/o2/token",
        "/replenish/toner-black",
    ]
    assert server.requests[1].headers["x-amzn-type-version"] == NS + "DrsReplenishInput@1.0"
    assert server.requests[2].headers["x-amzn-accept-type"] == NS + "DrsOrderInfoResult@1.0"
    assert server.requests[5].headers["authorization"] == f"Bearer {ACCESS}a2{PAYLOAD}"
    assert not any(f"{ACCESS}a" in line or "csecret-1" in line for line in r["log"])


@pytest.mark.micropython
@needs_micropython
def test_micropython_flow_in_a_small_heap(server, mpy):
    # Modules precompiled with mpy-cross as on a device (compiling the sources
    # on the target needs far more RAM than running them). Measured minimum for
    # this script on the 64-bit unix port, with 400-character tokens: ~40 KB (~33 KB
    # with the old 100-character ones); 44 KB leaves a margin.
    r = json.loads(mpy(_flow_script(server), heap="44k", compiled=True))
    _check_flow(server, r)
    # little retained after the calls: the result dict and the captured log lines
    assert r["free0"] - r["free1"] < 4096


@pytest.mark.micropython
@needs_micropython
def test_micropython_flow_over_tls(tls_server, tls_material, mpy):
    # Same flow over verified TLS (measured minimum ~46 KB with 400-character tokens,
    # ~39 KB with 100-character ones: certificates + session).
    script = _flow_script(tls_server, tls_material["bundle_pem"].decode())
    r = json.loads(mpy(script, heap="50k", compiled=True))
    _check_flow(tls_server, r)


def test_admin_calls_unload_their_module(server, client):
    import sys

    server.add(reply(200, b""), json_reply(200, {"slotOrderStatuses": []}))
    from drsagent.compat import run_once

    run_once("drsadmin", "deregister", client)
    assert run_once("drsadmin", "cancel_test_orders", client, "a") == []
    assert "drsagent.drsadmin" not in sys.modules


@pytest.mark.micropython
@needs_micropython
def test_micropython_admin_calls(server, mpy):
    # deregister/cancel test orders/subscriptionInfo (provisioning and back office) run
    # on the device too: drsadmin is loaded for the call and dropped again.
    server.add(
        json_reply(200, {"access_token": f"{ACCESS}a1", "expires_in": 3600}),
        json_reply(200, {"slotsSubscriptionStatus": {"s1": {"subscribed": True}}}),
        json_reply(200, {"slotOrderStatuses": [{"slotId": "s1", "orderStatus": "CANCELLED"}]}),
        reply(200, b""),
    )
    script = f"URL = {server.url!r}\nREFRESH = {REFRESH!r}\n" + (
        """
import json, sys
from drsagent.lwa import TokenManager
from drsagent.drs import DrsClient
from drsagent.compat import run_once
class Clock:
    def now(self):
        return 1767225600
secrets = {"lwa": {"client_id": "cid", "client_secret": "cs", "refresh_token": REFRESH + "r1"}}
c = DrsClient(URL, TokenManager(URL + "/auth/o2/token", secrets, lambda s: None, Clock()))
r = {"subs": run_once("drsadmin", "subscription_info", c)}
r["cancel"] = run_once("drsadmin", "cancel_test_orders", c, "s1")
r["dereg"] = run_once("drsadmin", "deregister", c)
r["loaded"] = "drsagent.drsadmin" in sys.modules
print(json.dumps(r))
"""
    )
    # drsadmin brings the back-office version pairs with it (out of the loop's heap)
    r = json.loads(mpy(script, heap="40k", compiled=True))
    assert r == {
        "subs": {"s1": True},
        "cancel": [{"slotId": "s1", "orderStatus": "CANCELLED"}],
        "dereg": None,
        "loaded": False,
    }
    paths = [(q.method, q.path) for q in server.requests]
    assert paths == [
        ("POST", "/auth/o2/token"),
        ("GET", "/subscriptionInfo"),
        ("DELETE", "/testOrders/slots/s1"),
        ("DELETE", "/registration"),
    ]
    assert server.requests[3].headers["x-amzn-type-version"] == NS + "DrsDeregisterInput@2.0"
