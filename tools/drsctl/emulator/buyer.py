"""The buyer behind an order, as the back office sees it (made up, deterministic).

A customer record only has a name and an e-mail; the shipping address and Amazon's
anonymized buyer e-mail are derived from the customer id, so every call (SP-API, MWS)
shows the same buyer for the same customer. The PII split follows the SP-API: the
name, e-mail and street lines are personally identifiable (behind a restricted data
token); city, state, postal code and country are not.
"""

import dataclasses
import hashlib
from typing import Any

from .store import Customer

_STREETS = (
    "Maple Ave", "Oak St", "Cedar Ln", "Pine Rd", "Elm St", "Birch Way", "Lakeview Dr",
    "Hillcrest Rd", "Sunset Blvd", "Park Pl", "River Rd", "Willow Ct",
)  # fmt: skip
_CITIES = (
    ("Seattle", "WA", "98109"), ("Portland", "OR", "97205"), ("Denver", "CO", "80202"),
    ("Austin", "TX", "78701"), ("Columbus", "OH", "43215"), ("Raleigh", "NC", "27601"),
    ("Madison", "WI", "53703"), ("Boise", "ID", "83702"), ("Tucson", "AZ", "85701"),
    ("Albany", "NY", "12207"),
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Buyer:
    """What the seller may learn about a customer."""

    name: str
    email: str
    address_line1: str
    city: str
    state: str
    postal_code: str
    phone: str
    country_code: str = "US"

    def address(self, pii: bool) -> dict[str, Any]:
        """Return an SP-API ``Address``: the full one, or only its non-PII part."""
        public: dict[str, Any] = {
            "City": self.city,
            "StateOrRegion": self.state,
            "PostalCode": self.postal_code,
            "CountryCode": self.country_code,
        }
        if not pii:
            return public
        return {
            "Name": self.name,
            "AddressLine1": self.address_line1,
            **public,
            "Phone": self.phone,
            "AddressType": "Residential",
        }

    def info(self) -> dict[str, Any]:
        """Return the SP-API ``BuyerInfo`` fields."""
        return {"BuyerEmail": self.email, "BuyerName": self.name}


def for_customer(customer: Customer) -> Buyer:
    """Return the buyer profile of a customer (same input, same profile)."""
    raw = hashlib.sha256(customer.customer_id.encode()).digest()
    city, state, postal_code = _CITIES[raw[0] % len(_CITIES)]
    number = 100 + int.from_bytes(raw[1:3], "big") % 9800
    street = _STREETS[raw[3] % len(_STREETS)]
    phone = f"+1 206-555-{int.from_bytes(raw[4:6], 'big') % 10000:04d}"
    return Buyer(
        name=customer.name,
        email=f"{raw[6:14].hex()}@marketplace.amazon.com",
        address_line1=f"{number} {street}",
        city=city,
        state=state,
        postal_code=postal_code,
        phone=phone,
    )
