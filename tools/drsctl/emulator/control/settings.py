"""Emulator-wide knobs: the virtual clock, order lifecycle settings and rate limits."""

import dataclasses
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from .. import clock, ratelimit
from ..store import SETTING_LIMITS, Settings, Tx, setting_ok
from .body import bad_request, field, json_object, store_of


def _clock_json(t: int) -> JSONResponse:
    return JSONResponse({"now": t, "iso": clock.iso(t)})


def _rate_limits_json(tx: Tx) -> JSONResponse:
    return JSONResponse(
        {
            "enabled": ratelimit.enabled(tx),
            "buckets": [
                {"key": key, "tokens": round(tokens, 4), "updated_at": at}
                for key, tokens, at in tx.buckets()
            ],
        }
    )


async def get_rate_limits(request: Request) -> JSONResponse:
    """Return whether throttling is on and every bucket's level."""
    with store_of(request).tx() as tx:
        return _rate_limits_json(tx)


async def set_rate_limits(request: Request) -> JSONResponse:
    """Turn SP-API/MWS throttling on or off (``{"enabled": bool}``)."""
    body = await json_object(request)
    enabled = field(body, "enabled", bool)
    with store_of(request).tx() as tx:
        tx.set_flag(ratelimit.ENABLED_FLAG, enabled)
        return _rate_limits_json(tx)


async def refill_rate_limits(request: Request) -> JSONResponse:
    """Refill every bucket (they start full again)."""
    with store_of(request).tx() as tx:
        return JSONResponse({"refilled": tx.clear_buckets()})


async def get_clock(request: Request) -> JSONResponse:
    """Return the virtual time."""
    with store_of(request).tx() as tx:
        return _clock_json(tx.now())


async def set_clock(request: Request) -> JSONResponse:
    """Advance or set the virtual time (never backwards); due order transitions run."""
    body = await json_object(request)
    if ("advance" in body) == ("set" in body):
        raise bad_request("Give exactly one of advance (seconds) or set (epoch seconds)")
    try:
        with store_of(request).tx() as tx:
            if "advance" in body:
                t = clock.advance(tx, field(body, "advance", (int, float)))
            else:
                t = clock.set_to(tx, field(body, "set", (int, float)))
    except clock.ClockError as err:
        raise bad_request(str(err)) from None
    return _clock_json(t)


def _settings_json(settings: Settings) -> JSONResponse:
    return JSONResponse(dataclasses.asdict(settings))


async def get_settings(request: Request) -> JSONResponse:
    """Return the order lifecycle settings."""
    with store_of(request).tx() as tx:
        return _settings_json(tx.settings())


async def update_settings(request: Request) -> JSONResponse:
    """Change some settings (they apply to orders placed from now on)."""
    body = await json_object(request)
    unknown = set(body) - set(Settings.__dataclass_fields__)
    if unknown:
        raise bad_request(f"Unknown settings: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name, (kind, high) in SETTING_LIMITS.items():
        value = field(body, name, (int, float) if kind is float else int, None)
        if value is None:
            continue
        if not setting_ok(name, value):
            what = "an integer" if kind is int else "a finite number"
            raise bad_request(f"Field {name} must be {what} within 0..{high}")
        values[name] = value
    with store_of(request).tx() as tx:
        tx.update_settings(values)
        return _settings_json(tx.settings())
