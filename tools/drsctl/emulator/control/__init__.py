"""The control API under ``/_emulator/...``: set up the world, move time, look inside.

JSON in and out; errors are ``{"message": ...}`` (400 bad input, 404 unknown thing,
409 conflicting state). These routes are not device-facing: they are neither logged
nor subject to faults. One module per concern:

* :mod:`.registration`: customers, LwA clients, devices and slots, authorization codes;
* :mod:`.sellers`: sellers and their SP-API/MWS credentials;
* :mod:`.settings`: the virtual clock, lifecycle settings, rate limits;
* :mod:`.orders`: list, place (``POST /_emulator/orders``), cancel as the customer,
  give one its own delivery time;
* :mod:`.reports`: the request log, the latest slot and device reports;
* :mod:`.faults`: faults and token expiry; :mod:`.body`: reading requests.
"""

from starlette.routing import Route

from . import faults, orders, registration, reports, sellers, settings

ROUTES = [
    Route("/_emulator/provision", registration.provision, methods=["POST"]),
    Route("/_emulator/clients", registration.create_client, methods=["POST"]),
    Route("/_emulator/customers", registration.create_customer, methods=["POST"]),
    Route("/_emulator/devices", registration.create_device, methods=["POST"]),
    Route("/_emulator/authcodes", registration.create_auth_code, methods=["POST"]),
    Route("/_emulator/clock", settings.get_clock, methods=["GET"]),
    Route("/_emulator/clock", settings.set_clock, methods=["POST"]),
    Route("/_emulator/settings", settings.get_settings, methods=["GET"]),
    Route("/_emulator/settings", settings.update_settings, methods=["POST"]),
    Route("/_emulator/orders", orders.list_orders, methods=["GET"]),
    Route("/_emulator/orders", orders.place_order, methods=["POST"]),
    Route("/_emulator/orders/{eventInstanceId}/cancel", orders.cancel_order, methods=["POST"]),
    Route("/_emulator/orders/{eventInstanceId}/delivery", orders.set_delivery, methods=["POST"]),
    Route("/_emulator/requests", reports.list_requests, methods=["GET"]),
    Route("/_emulator/slot-status", reports.slot_status, methods=["GET"]),
    Route("/_emulator/faults", faults.list_faults, methods=["GET"]),
    Route("/_emulator/faults", faults.add_fault, methods=["POST"]),
    Route("/_emulator/faults", faults.clear_faults, methods=["DELETE"]),
    Route("/_emulator/faults/release", faults.release_faults, methods=["POST"]),
    Route("/_emulator/tokens/expire", faults.expire_tokens, methods=["POST"]),
    Route("/_emulator/refresh-tokens/revoke", faults.revoke_refresh_tokens, methods=["POST"]),
    Route("/_emulator/sellers", sellers.list_sellers, methods=["GET"]),
    Route("/_emulator/sellers", sellers.create_seller, methods=["POST"]),
    Route("/_emulator/rate-limits", settings.get_rate_limits, methods=["GET"]),
    Route("/_emulator/rate-limits", settings.set_rate_limits, methods=["POST"]),
    Route("/_emulator/rate-limits", settings.refill_rate_limits, methods=["DELETE"]),
]
"""Every control route."""
