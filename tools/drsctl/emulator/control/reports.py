"""Looking inside: the request log and the devices' latest slot and device reports."""

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from .. import inputs
from .body import MAX_LIST_LIMIT, bad_request, device_or_404, query_int, store_of

log = logging.getLogger(__name__)


async def list_requests(request: Request) -> JSONResponse:
    """Return device-facing requests after id ``since`` (at most ``limit``)."""
    since = query_int(request, "since", 0)
    limit = min(query_int(request, "limit", 1000), MAX_LIST_LIMIT)
    with store_of(request).tx() as tx:
        return JSONResponse({"requests": tx.requests(since, limit)})


async def slot_status(request: Request) -> JSONResponse:
    """Return the last slotStatus (per slot) and deviceStatus bodies of a device."""
    device_id = request.query_params.get("device_id")
    if not device_id:
        raise bad_request("Missing query parameter device_id")
    with store_of(request).tx() as tx:
        device_or_404(tx, device_id)
        reports = tx.latest_reports(device_id)
    result: dict[str, Any] = {"device_id": device_id, "device_status": None, "slots": {}}
    for report in reports:
        entry: dict[str, Any] = {"body": None, "received_at": report.received_at}
        try:
            entry["body"] = inputs.load_json(report.body)
        except inputs.InputError as err:  # stored by an older emulator that let it in
            log.warning("unreadable %s report of %s: %s", report.kind, device_id, err)
            entry["error"] = f"stored body is not valid JSON: {err}"
        if report.kind == "deviceStatus":
            result["device_status"] = entry
        else:
            result["slots"][report.slot_id] = entry
    return JSONResponse(result)
