"""Login with Amazon: ``POST /auth/o2/token`` and the token bookkeeping DRS relies on.

Access tokens (``Atza|…``) live ``ACCESS_TTL`` seconds on the virtual clock; refresh
tokens (``Atzr|…``) do not expire and stay the same across refreshes, like LwA's.
Errors use LwA's shape ``{"error", "error_description"}``; descriptions never echo a
submitted value.
"""

from urllib.parse import parse_qs

from starlette.responses import JSONResponse, Response

from . import ids
from .device_route import Call
from .errors import LwaError
from .store import AuthCode, Client, Device, Token, Tx

PATH = "/auth/o2/token"
ACCESS_TTL = 3600
AUTH_CODE_TTL = 300
FORM_TYPE = "application/x-www-form-urlencoded"


def lwa_error(error: str, description: str) -> LwaError:
    """Return an LwA error (401 for ``invalid_client``, else 400)."""
    return LwaError(401 if error == "invalid_client" else 400, error, description)


def _missing(name: str) -> LwaError:
    return lwa_error("invalid_request", f"The request is missing a required parameter : {name}")


def _invalid_grant(name: str) -> LwaError:
    return lwa_error("invalid_grant", f"The request has an invalid grant parameter : {name}")


def _require(form: dict[str, str], name: str) -> str:
    """Return a non-empty form field or raise ``invalid_request``."""
    value = form.get(name, "")
    if not value:
        raise _missing(name)
    return value


def create_auth_code(tx: Tx, device: Device, now: int) -> tuple[str, str]:
    """Issue a single-use authorization code for a device; return (code, redirect_uri)."""
    client = tx.client(device.client_id)
    assert client is not None  # devices reference an existing client
    code = ids.auth_code()
    tx.insert_auth_code(
        AuthCode(
            code_hash=ids.digest(code),
            device_id=device.device_id,
            client_id=client.client_id,
            redirect_uri=client.redirect_uri,
            expires_at=now + AUTH_CODE_TTL,
            used=False,
        )
    )
    return code, client.redirect_uri


def _mint(
    tx: Tx,
    kind: str,
    client_id: str,
    device_id: str | None,
    now: int,
    seller_id: str | None = None,
) -> str:
    """Create and store a token of ``kind``; return it in clear (the only time it exists).

    A token is bound to a device (DRS), to a seller (SP-API, the seller application's
    authorization) or to neither (``client_credentials``, grantless).
    """
    token = ids.access_token() if kind == "access" else ids.refresh_token()
    tx.insert_token(
        Token(
            kind=kind,
            token_hash=ids.digest(token),
            client_id=client_id,
            device_id=device_id,
            issued_at=now,
            expires_at=now + ACCESS_TTL if kind == "access" else None,
            revoked=False,
            seller_id=seller_id,
        )
    )
    return token


def authorize_seller_app(tx: Tx, client: Client, seller_id: str, now: int) -> str:
    """The seller authorizes an application: return a refresh token bound to the seller."""
    return _mint(tx, "refresh", client.client_id, None, now, seller_id=seller_id)


def _grant(access: str, refresh: str | None) -> dict[str, object]:
    """Return LwA's token response body."""
    body: dict[str, object] = {"access_token": access}
    if refresh is not None:
        body["refresh_token"] = refresh
    body.update(token_type="bearer", expires_in=ACCESS_TTL)
    return body


def exchange_code(
    tx: Tx, client: Client, code: str, redirect_uri: str, now: int
) -> tuple[dict[str, object], str]:
    """Run the authorization-code grant; return (token body, device id)."""
    record = tx.auth_code(ids.digest(code))
    if (
        record is None
        or record.used
        or record.client_id != client.client_id
        or record.expires_at <= now
    ):
        raise _invalid_grant("code")
    if record.redirect_uri != redirect_uri:
        raise _invalid_grant("redirect_uri")
    device = tx.device(record.device_id)
    if device is None or device.deregistered_at is not None:
        raise _invalid_grant("code")
    tx.use_auth_code(record.code_hash)
    refresh = _mint(tx, "refresh", client.client_id, device.device_id, now)
    access = _mint(tx, "access", client.client_id, device.device_id, now)
    return _grant(access, refresh), device.device_id


def _refresh(
    tx: Tx, client: Client, refresh: str, now: int
) -> tuple[dict[str, object], str | None]:
    """Run the refresh-token grant; return (token body, device id or None for a seller).

    The same refresh token comes back. A device's refresh token yields a DRS token; a
    seller application's yields an SP-API token for that seller.
    """
    record = tx.token(ids.digest(refresh))
    if (
        record is None
        or record.kind != "refresh"
        or record.revoked
        or record.client_id != client.client_id
        or (record.device_id is None and record.seller_id is None)
    ):
        raise _invalid_grant("refresh_token")
    access = _mint(
        tx, "access", client.client_id, record.device_id, now, seller_id=record.seller_id
    )
    return _grant(access, refresh), record.device_id


def _authenticate(tx: Tx, form: dict[str, str]) -> Client:
    """Return the client named in the form if its secret matches."""
    client = tx.client(_require(form, "client_id"))
    secret = _require(form, "client_secret")
    if client is None or client.secret_hash != ids.digest(secret):
        raise lwa_error("invalid_client", "Client authentication failed")
    return client


def token_endpoint(call: Call) -> Response:
    """Handle ``POST /auth/o2/token``."""
    content_type = call.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise lwa_error("invalid_request", f"Content-Type must be {FORM_TYPE}")
    try:
        parsed = parse_qs(call.body.decode(), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise lwa_error("invalid_request", "The request body is not valid form data") from None
    form = {k: v[0] for k, v in parsed.items()}
    grant_type = _require(form, "grant_type")
    if grant_type not in ("authorization_code", "refresh_token", "client_credentials"):
        raise lwa_error(
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server",
        )
    with call.store.tx() as tx:
        now = tx.now()
        client = _authenticate(tx, form)
        if grant_type == "authorization_code":
            code, redirect_uri = _require(form, "code"), _require(form, "redirect_uri")
            body, call.device_id = exchange_code(tx, client, code, redirect_uri, now)
        elif grant_type == "refresh_token":
            body, call.device_id = _refresh(tx, client, _require(form, "refresh_token"), now)
        else:
            body = _grant(_mint(tx, "access", client.client_id, None, now), None)
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def is_live_seller_token(token: Token | None, now: int) -> bool:
    """Return whether a token is an unrevoked, unexpired access token bound to a seller."""
    return (
        token is not None
        and token.kind == "access"
        and not token.revoked
        and token.seller_id is not None
        and token.expires_at is not None
        and now < token.expires_at
    )


def is_live_device_token(token: Token | None, now: int) -> bool:
    """Return whether a token is an unrevoked, unexpired access token bound to a device."""
    return (
        token is not None
        and token.kind == "access"
        and not token.revoked
        and token.device_id is not None
        and token.expires_at is not None
        and now < token.expires_at
    )
