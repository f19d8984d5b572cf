"""Amazon-looking identifiers and secret hashing.

Secrets (client secrets, auth codes, tokens) are stored only as SHA-256 digests, so
neither the database nor the request log ever holds one in clear text.
"""

import hashlib
import random
import secrets
import string
import uuid
from typing import Any

_UPPER_ALNUM = string.ascii_uppercase + string.digits
_ALNUM = string.ascii_letters + string.digits
_UUID_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in string.hexdigits.lower()}
"""A random hex digit's two low bits under the RFC 4122 variant bits (``10xx``)."""


def _pick(alphabet: str, n: int) -> str:
    """Return ``n`` random characters from ``alphabet``."""
    return "".join(secrets.choice(alphabet) for _ in range(n))


def digest(secret: str) -> str:
    """Return the hex SHA-256 digest under which a secret is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def customer_id() -> str:
    """Return a new customer id (``amzn1.account.…``)."""
    return "amzn1.account." + _pick(_UPPER_ALNUM, 28)


def client_id() -> str:
    """Return a new LwA client id."""
    return "amzn1.application-oa2-client." + secrets.token_hex(16)


def client_secret() -> str:
    """Return a new LwA client secret."""
    return "amzn1.oa2-cs.v1." + secrets.token_hex(32)


def device_id() -> str:
    """Return a new device id."""
    return "amzn1.dash.device." + uuid.uuid4().hex


def auth_code() -> str:
    """Return a new LwA authorization code."""
    return "AN" + _pick(_ALNUM, 18)


_TOKEN_BYTES = 288
"""Random bytes in an LwA token: 384 characters after the prefix, about the size real
tokens have (LwA documents access tokens as at least 350 characters; refresh tokens are
as long), so the device's heap is measured with tokens of the size it really holds."""


def access_token() -> str:
    """Return a new LwA access token."""
    return "Atza|" + secrets.token_urlsafe(_TOKEN_BYTES)


def refresh_token() -> str:
    """Return a new LwA refresh token."""
    return "Atzr|" + secrets.token_urlsafe(_TOKEN_BYTES)


def seller_id_for(brand: str) -> str:
    """Return the merchant id of a brand (deterministic: one brand, one seller)."""
    raw = hashlib.sha256(brand.lower().encode()).digest()
    return "A" + "".join(_UPPER_ALNUM[b % len(_UPPER_ALNUM)] for b in raw[:13])


def asin_for(model: str, slot_id: str) -> str:
    """Return a stable ASIN for a model's slot when the caller gives none."""
    raw = hashlib.sha256(f"{model}/{slot_id}".encode()).digest()
    return "B0" + "".join(_UPPER_ALNUM[b % len(_UPPER_ALNUM)] for b in raw[:8])


def amazon_order_id() -> str:
    """Return an order id in Amazon's 3-7-7 digit format."""
    first, second, third = (
        secrets.randbelow(4) + 111,
        secrets.randbelow(10**7),
        secrets.randbelow(10**7),
    )
    return f"{first}-{second:07d}-{third:07d}"


def order_item_id() -> str:
    """Return a 14-digit order item id."""
    return f"{secrets.randbelow(10**14):014d}"


def event_instance_id() -> str:
    """Return a DRS event instance id (``amzn1.dash.v2.o.<uuid>``)."""
    return f"amzn1.dash.v2.o.{uuid.uuid4()}"


def restricted_data_token() -> str:
    """Return a new restricted data token (``Atz.sprdt|…``)."""
    return "Atz.sprdt|" + secrets.token_urlsafe(72)


def mws_access_key() -> str:
    """Return a new MWS access key id (20 upper-case letters and digits)."""
    return "AKIA" + _pick(_UPPER_ALNUM, 16)


def mws_secret_key() -> str:
    """Return a new MWS secret access key (40 characters)."""
    return _pick(_ALNUM + "+/", 40)


def mws_auth_token() -> str:
    """Return a new MWS authorization token (``amzn.mws.<uuid>``)."""
    return f"amzn.mws.{uuid.uuid4()}"


_REQUEST_IDS = random.Random()
"""The source of request ids, seeded from the OS once: an id must be unique, not secret,
and every request draws one (``os.urandom`` would be a system call each)."""


def request_id() -> str:
    """Return a request id for ``x-amzn-RequestId`` / MWS ``RequestId``: a random UUID.

    As ``str(uuid.uuid4())``, formatted straight from 128 random bits.
    """
    h = f"{_REQUEST_IDS.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_UUID_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def request_id_of(scope: Any) -> str:
    """Return the id the request pipeline gave the request of ASGI ``scope`` (or a new one)."""
    return scope.get("state", {}).get("request_id") or request_id()


def page_token() -> str:
    """Return an opaque NextToken."""
    return secrets.token_urlsafe(32)


def package_reference_id() -> str:
    """Return a package reference id Amazon assigns when the seller gives none (numeric)."""
    return str(secrets.randbelow(9 * 10**8) + 10**8)
