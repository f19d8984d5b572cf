"""Sellers (the back office): SP-API application and MWS credentials, listing."""

from starlette.requests import Request
from starlette.responses import JSONResponse

from .. import ids, lwa
from ..marketplaces import DEFAULT_MARKETPLACE_ID, MARKETPLACES
from ..store import MwsKey, Seller
from .body import bad_request, field, json_object, store_of
from .registration import SELLER_ID, new_client


async def create_seller(request: Request) -> JSONResponse:
    """Create a seller (or give an existing one fresh credentials): SP-API app + MWS keys."""
    body = await json_object(request)
    name = field(body, "name", str)
    if not name.strip():
        raise bad_request("Field name must not be empty")
    seller_id = field(body, "seller_id", str, ids.seller_id_for(name))
    if not SELLER_ID.match(seller_id):
        raise bad_request("Field seller_id must be 10 to 20 upper-case letters and digits")
    marketplace_id = field(body, "marketplace_id", str, None)
    if marketplace_id is not None and marketplace_id not in MARKETPLACES:
        raise bad_request("Unknown marketplace_id")
    with store_of(request).tx() as tx:
        now = tx.now()
        seller = tx.seller(seller_id)
        if seller is None:
            seller = Seller(seller_id, name, marketplace_id or DEFAULT_MARKETPLACE_ID, now)
            tx.insert_seller(seller)
        elif marketplace_id is not None and marketplace_id != seller.marketplace_id:
            raise bad_request(f"Seller {seller_id} sells in {seller.marketplace_id}", 409)
        client, secret = new_client(tx, "https://localhost/spapi/callback", now)
        refresh = lwa.authorize_seller_app(tx, client, seller.seller_id, now)
        access_key, secret_key, auth_token = (
            ids.mws_access_key(),
            ids.mws_secret_key(),
            ids.mws_auth_token(),
        )
        tx.insert_mws_key(
            MwsKey(access_key, secret_key, seller.seller_id, ids.digest(auth_token), now)
        )
    return JSONResponse(
        {
            "seller_id": seller.seller_id,
            "name": seller.name,
            "marketplace_id": seller.marketplace_id,
            "lwa": {
                "client_id": client.client_id,
                "client_secret": secret,
                "refresh_token": refresh,
            },
            "mws": {"access_key": access_key, "secret_key": secret_key, "auth_token": auth_token},
        }
    )


async def list_sellers(request: Request) -> JSONResponse:
    """List sellers (never their credentials)."""
    with store_of(request).tx() as tx:
        sellers = tx.sellers()
    return JSONResponse(
        {
            "sellers": [
                {"seller_id": s.seller_id, "name": s.name, "marketplace_id": s.marketplace_id}
                for s in sellers
            ]
        }
    )
