"""Marketplaces and the Amazon order-id format: facts every service shares (one definition)."""

import re

MARKETPLACES = {
    "ATVPDKIKX0DER": "Amazon.com",
    "A2EUQ1WTGCTBG2": "Amazon.ca",
    "A1AM78C64UM0Y8": "Amazon.com.mx",
    "A2Q3Y263D00KWC": "Amazon.com.br",
    "A1F83G8C2ARO7P": "Amazon.co.uk",
    "A1PA6795UKMFR9": "Amazon.de",
    "A13V1IB3VIYZZH": "Amazon.fr",
    "APJ6JRA9NG5V4": "Amazon.it",
    "A1RKKUPIHCS9HS": "Amazon.es",
    "A1805IZSGTT6HS": "Amazon.nl",
    "A2NODRKZP88ZB9": "Amazon.se",
    "A1C3SOZRARQ6R3": "Amazon.pl",
    "A21TJRUUN4KGV": "Amazon.in",
    "A1VC38T7YXB528": "Amazon.co.jp",
    "A39IBJ37TRP1C6": "Amazon.com.au",
    "A19VAU5U5O7RUS": "Amazon.sg",
}
"""Known marketplace ids and their sales channel."""

DEFAULT_MARKETPLACE_ID = "ATVPDKIKX0DER"
"""Where sellers sell unless they say otherwise (Amazon.com)."""

ORDER_ID = re.compile(r"^\d{3}-\d{7}-\d{7}$")
"""An Amazon order id: 3-7-7 digits."""


def sales_channel(marketplace_id: str) -> str:
    """Return the ``SalesChannel`` of a marketplace (Amazon.com for an unknown one)."""
    return MARKETPLACES.get(marketplace_id, "Amazon.com")
