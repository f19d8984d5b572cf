"""Tokens API 2021-03-01: restricted data tokens (RDTs) for the Orders v0 PII.

``POST /tokens/2021-03-01/restrictedDataToken`` takes ``{"restrictedResources": [{"method",
"path", "dataElements"?}], "targetApplication"?}`` and answers ``{"restrictedDataToken",
"expiresIn": 3600}``. The token is then sent in ``x-amz-access-token`` instead of the
LwA access token, and only for the restricted operations it covers:

* a resource covers a request when the methods match and the paths match segment by
  segment (a specific path such as ``/orders/v0/orders/902-3159896-1390916`` or a
  generic one with ``{orderId}``);
* ``getOrders``/``getOrder`` unlock the data elements listed (``buyerInfo``,
  ``shippingAddress``, ``buyerTaxInformation``), ``getOrderItems`` ``buyerInfo``; the
  other restricted operations (address, buyer info, items' buyer info, regulated info)
  take no data elements: the path is the grant.

An RDT used for a path it does not cover is refused (403); with the plain access token
the restricted operations answer without their PII. Which operations are restricted, and
which data elements each takes, is a field of each SP-API operation
(:data:`.spapi.routes.OPERATIONS`); this module gets them as :class:`RestrictedOperation`.
"""

import dataclasses
import json
from collections.abc import Iterable
from typing import Any

from . import ids
from .marketplaces import ORDER_ID
from .store import Rdt, Seller, Tx

RDT_TTL = 3600
ORDER_ELEMENTS = frozenset({"buyerInfo", "shippingAddress", "buyerTaxInformation"})
COVERS_PATH = "*"
"""The element name :func:`covered` reports for operations without data elements."""


@dataclasses.dataclass(frozen=True)
class RestrictedOperation:
    """An operation an RDT may be used for: method, path template, allowed data elements."""

    method: str
    template: str
    elements: frozenset[str] | None
    """Data elements it takes (None: the path itself is the grant)."""


MAX_RESOURCES = 50


class RdtInputError(ValueError):
    """The createRestrictedDataToken body is not acceptable (message for the caller)."""


def _segments_match(pattern: str, path: str, template: bool) -> bool:
    """Match ``path`` against ``pattern``; ``{…}`` segments match an order id."""
    want = pattern.strip("/").split("/")
    got = path.strip("/").split("/")
    if len(want) != len(got):
        return False
    for w, g in zip(want, got, strict=True):
        if w.startswith("{") and w.endswith("}"):
            if template and g.startswith("{") and g.endswith("}"):
                continue
            if not ORDER_ID.match(g):
                return False
        elif w != g:
            return False
    return True


def _operation_of(
    restricted: Iterable[RestrictedOperation], method: str, path: str
) -> RestrictedOperation | None:
    """Return the restricted operation ``method path`` names, if any."""
    for operation in restricted:
        if operation.method == method and _segments_match(operation.template, path, True):
            return operation
    return None


def parse_resources(body: Any, restricted: Iterable[RestrictedOperation]) -> list[dict[str, Any]]:
    """Validate a createRestrictedDataToken body; return its normalized resources."""
    if not isinstance(body, dict):
        raise RdtInputError("The request body must be a JSON object.")
    target = body.get("targetApplication")
    if target is not None and not isinstance(target, str):
        raise RdtInputError("targetApplication must be a string.")
    resources = body.get("restrictedResources")
    if not isinstance(resources, list) or not resources:
        raise RdtInputError("Missing request parameter: restrictedResources.")
    if len(resources) > MAX_RESOURCES:
        raise RdtInputError(f"restrictedResources accepts at most {MAX_RESOURCES} items.")
    normalized: list[dict[str, Any]] = []
    for resource in resources:
        if not isinstance(resource, dict):
            raise RdtInputError("Each restricted resource must be a JSON object.")
        method, path = resource.get("method"), resource.get("path")
        if not isinstance(method, str) or not isinstance(path, str) or not path:
            raise RdtInputError("Each restricted resource needs a method and a path.")
        method = method.upper()
        if method not in ("GET", "PUT", "POST", "DELETE"):
            raise RdtInputError("Invalid method in restrictedResources.")
        path = path.split("?")[0]
        found = _operation_of(restricted, method, path)
        if found is None:
            raise RdtInputError("Invalid path in restrictedResources: not a restricted operation.")
        allowed = found.elements
        elements = resource.get("dataElements", [])
        if elements is None:
            elements = []
        if not isinstance(elements, list) or not all(isinstance(e, str) for e in elements):
            raise RdtInputError("dataElements must be a list of strings.")
        if allowed is None and elements:
            raise RdtInputError("dataElements is not supported for this restricted resource.")
        unknown = sorted(set(elements) - (allowed or frozenset()))
        if unknown:
            raise RdtInputError(f"Invalid dataElements: {', '.join(unknown)}.")
        normalized.append({"method": method, "path": path, "dataElements": sorted(set(elements))})
    return normalized


def issue(tx: Tx, seller: Seller, client_id: str, resources: list[dict[str, Any]], now: int) -> str:
    """Store and return a new RDT for ``resources`` (valid ``RDT_TTL`` seconds)."""
    token = ids.restricted_data_token()
    tx.insert_rdt(
        Rdt(
            token_hash=ids.digest(token),
            seller_id=seller.seller_id,
            client_id=client_id,
            resources=json.dumps(resources),
            issued_at=now,
            expires_at=now + RDT_TTL,
        )
    )
    return token


def covered(
    resources: list[dict[str, Any]], operation: RestrictedOperation, path: str
) -> set[str] | None:
    """Return the data elements an RDT unlocks for a request of ``operation`` at ``path``.

    None if it covers none; for operations without data elements the set holds
    :data:`COVERS_PATH`.
    """
    method, allowed = operation.method, operation.elements
    unlocked: set[str] | None = None
    for resource in resources:
        if resource["method"] != method:
            continue
        if not _segments_match(resource["path"], path, template=False):
            continue
        unlocked = unlocked or set()
        if allowed is None:
            unlocked.add(COVERS_PATH)
        else:
            unlocked.update(resource["dataElements"])
    return unlocked
