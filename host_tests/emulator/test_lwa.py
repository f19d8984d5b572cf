"""LwA token endpoint: the three grants, token lifetime and LwA's error shapes."""

import httpx
import pytest

from host_tests.fake_tokens import ACCESS, REFRESH

TOKEN = "/auth/o2/token"


@pytest.fixture
def registration(http: httpx.Client) -> dict[str, str]:
    """A customer, client and device registered step by step, plus a fresh auth code."""
    client = http.post("/_emulator/clients", json={}).json()
    customer = http.post("/_emulator/customers", json={"name": "Ada"}).json()
    device = http.post(
        "/_emulator/devices",
        json={
            "customer_id": customer["customer_id"],
            "client_id": client["client_id"],
            "serial": "WM-1",
            "model": "washco-w9",
            "slots": [{"id": "detergent"}],
        },
    ).json()
    code = http.post("/_emulator/authcodes", json={"device_id": device["device_id"]}).json()
    return {**client, **customer, **device, **code}


def code_grant(reg: dict[str, str], **override: str) -> dict[str, str]:
    form = {
        "grant_type": "authorization_code",
        "code": reg["code"],
        "redirect_uri": reg["redirect_uri"],
        "client_id": reg["client_id"],
        "client_secret": reg["client_secret"],
    }
    form.update(override)
    return form


def test_authorization_code_grant(http: httpx.Client, registration: dict[str, str]) -> None:
    assert registration["client_id"].startswith("amzn1.application-oa2-client.")
    assert registration["customer_id"].startswith("amzn1.account.")
    response = http.post(TOKEN, data=code_grant(registration))
    assert response.status_code == 200
    body = response.json()
    assert body["access_token"].startswith(ACCESS)
    assert body["refresh_token"].startswith(REFRESH)
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert response.headers["cache-control"] == "no-store"
    # codes are single use
    again = http.post(TOKEN, data=code_grant(registration))
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_code_expires_after_300_virtual_seconds(http, registration, advance) -> None:
    advance(300)
    response = http.post(TOKEN, data=code_grant(registration))
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "The request has an invalid grant parameter : code",
    }


def test_code_redirect_uri_must_match(http, registration) -> None:
    response = http.post(TOKEN, data=code_grant(registration, redirect_uri="https://evil/cb"))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert "evil" not in response.text


def test_code_of_another_client_is_invalid_grant(http, registration) -> None:
    other = http.post("/_emulator/clients", json={}).json()
    form = code_grant(registration, **other)
    response = http.post(TOKEN, data=form)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_refresh_keeps_the_refresh_token(device) -> None:
    first = device.refresh().json()
    second = device.refresh().json()
    assert first["refresh_token"] == second["refresh_token"] == device.info["refresh_token"]
    assert first["access_token"] != second["access_token"] != device.access_token
    assert first["expires_in"] == 3600


def test_revoked_refresh_token(http, device) -> None:
    revoked = http.post("/_emulator/refresh-tokens/revoke", json={"device_id": device.device_id})
    assert revoked.json() == {"revoked": 1}
    response = device.refresh()
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    # the access token already issued lives on until it expires
    assert device.call("subscriptionInfo", "/subscriptionInfo").status_code == 200


def test_client_credentials_grant(http, device) -> None:
    response = http.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "scope": "dash:replenish",
            "client_id": device.info["client_id"],
            "client_secret": device.info["client_secret"],
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["access_token"].startswith(ACCESS)
    assert "refresh_token" not in body
    # not bound to a device: DRS refuses it
    refused = device.call("subscriptionInfo", "/subscriptionInfo", token=body["access_token"])
    assert refused.status_code == 400
    assert refused.json() == {"message": "Invalid token"}


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"grant_type": None}, 400, "invalid_request"),
        ({"client_secret": "amzn1.oa2-cs.v1.wrong"}, 401, "invalid_client"),
        ({"client_id": "amzn1.application-oa2-client.nobody"}, 401, "invalid_client"),
        ({"client_secret": None}, 400, "invalid_request"),
        ({"refresh_token": None}, 400, "invalid_request"),
        ({"refresh_token": f"{REFRESH}made-up"}, 400, "invalid_grant"),
    ],
)
def test_lwa_errors(http, device, form, status, error) -> None:
    data = {
        "grant_type": "refresh_token",
        "refresh_token": device.info["refresh_token"],
        "client_id": device.info["client_id"],
        "client_secret": device.info["client_secret"],
    }
    data.update(form)
    data = {k: v for k, v in data.items() if v is not None}
    response = http.post(TOKEN, data=data)
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error
    assert body["error_description"]
    for secret in (device.info["client_secret"], device.info["refresh_token"], "wrong", "made-up"):
        assert secret not in response.text


def test_token_endpoint_wants_a_form(http, device) -> None:
    response = http.post(TOKEN, json={"grant_type": "refresh_token"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_access_token_expires_on_the_virtual_clock(device, advance) -> None:
    assert device.call("subscriptionInfo", "/subscriptionInfo").status_code == 200
    advance(3599)
    assert device.call("subscriptionInfo", "/subscriptionInfo").status_code == 200
    advance(1)
    expired = device.call("subscriptionInfo", "/subscriptionInfo")
    assert expired.status_code == 400
    assert expired.json() == {"message": "Invalid token"}
    assert expired.headers["x-amzn-ErrorType"] == "InvalidTokenException"
    device.access_token = device.refresh().json()["access_token"]
    assert device.call("subscriptionInfo", "/subscriptionInfo").status_code == 200


def test_request_log_never_holds_secrets(http, device) -> None:
    device.refresh()
    http.post(
        TOKEN,
        data={
            "grant_type": "refresh_token",
            "refresh_token": f"{REFRESH}nope",
            "client_id": device.info["client_id"],
            "client_secret": "bad-secret",
        },
    )
    log = http.get("/_emulator/requests").text
    entries = http.get("/_emulator/requests").json()["requests"]
    assert [e["route"] for e in entries] == ["token", "token", "token"]
    assert entries[1]["device_id"] == device.device_id
    assert [e["status"] for e in entries] == [200, 200, 401]
    for secret in (
        device.info["client_secret"],
        device.info["refresh_token"],
        device.access_token,
        REFRESH,
        ACCESS,
        "bad-secret",
    ):
        assert secret not in log
    raw = device.http.get("/_emulator/orders").text  # other views neither
    assert device.access_token not in raw


def test_tokens_have_realistic_lengths(device) -> None:
    """LwA documents access tokens of at least 350 characters; refresh tokens are as long."""
    grant = device.refresh().json()
    assert len(grant["access_token"]) >= 350
    assert len(grant["refresh_token"]) >= 350
    assert grant["access_token"].startswith(ACCESS) and grant["refresh_token"].startswith(REFRESH)
