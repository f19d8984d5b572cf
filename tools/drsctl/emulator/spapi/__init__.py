"""Selling Partner API: Orders v0 (every path of ``ordersV0.json``) and the Tokens API.

* :mod:`.routes`: the operation table (path, usage plan, RDT coverage) and the routes;
* :mod:`.dispatch`: the caller, the call's context and how every operation runs
  (token, rate limit, RDT coverage, handler);
* :mod:`.views`: the SP-API ``Order`` and ``OrderItem`` renderings of an order;
* :mod:`.listing`: getOrders (filters, paging);
* :mod:`.handlers`: the operations on one order (parts, shipments, regulated items) and RDTs.

Buyer PII (buyer name and e-mail, street address) is only present when an RDT covers
the request; see :mod:`..rdt`.
"""

from .routes import OPERATIONS, PREFIXES, ROUTES

__all__ = ["OPERATIONS", "PREFIXES", "ROUTES"]
