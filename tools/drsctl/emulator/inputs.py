"""Strict parsing of untrusted input, shared by every service of the emulator.

Each service maps :class:`InputError` to its own error shape (DRS ``ValidationException``,
SP-API ``InvalidInput``, control ``{"message"}``); the parsing itself exists once, here:

* :func:`load_json` is the only JSON decoder of the emulator (request bodies and stored
  JSON alike). Beyond :func:`json.loads` it refuses ``NaN``/``Infinity``/``-Infinity``,
  numbers that overflow a float (``1e400``) or exceed Python's integer digit limit,
  strings holding lone UTF-16 surrogates (they cannot be stored or sent as UTF-8) and
  nesting deeper than :data:`MAX_DEPTH` (including the ``RecursionError`` of very deep
  input), so nothing a client sends can make the decoder, SQLite or the JSON encoder of
  an answer blow up later.
* :func:`dump_json` is its counterpart for answers: the one JSON encoder of the DRS and
  SP-API routes, byte for byte what Starlette's ``JSONResponse`` writes.
* :func:`finite_number` and :func:`ascii_uint` check numbers: a JSON number that is
  finite and not a bool; a string of ASCII digits only (``str.isdigit`` also takes
  ``"١"`` or ``"²"``).
"""

import json
import math
from typing import Any

MAX_DEPTH = 64
"""Deepest nesting of arrays/objects a JSON document may have."""

INT64_MAX = 2**63 - 1
"""Largest integer SQLite stores (INTEGER is a signed 64-bit value)."""


class InputError(ValueError):
    """Input that cannot be accepted; the message is safe to show to the client."""


def _no_constant(name: str) -> Any:
    raise InputError(f"{name} is not a valid JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InputError(f"number {text[:40]} is out of range")
    return value


def _check_tree(value: Any) -> None:
    """Walk a decoded document (iteratively): depth limit and encodable strings."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                raise InputError("a string holds an unpaired UTF-16 surrogate") from None
        elif isinstance(node, dict | list):
            if depth >= MAX_DEPTH:
                raise InputError(f"nesting deeper than {MAX_DEPTH} levels")
            items = [*node.keys(), *node.values()] if isinstance(node, dict) else node
            stack.extend((item, depth + 1) for item in items)


_ENCODER = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), check_circular=False
)


def dump_json(content: Any) -> bytes:
    """Encode an answer's JSON as Starlette's ``JSONResponse`` does (compact UTF-8).

    One encoder for every answer (``json.dumps`` with options builds one a call), and no
    circular-reference walk: answers are trees built fresh by the handlers.
    """
    return _ENCODER.encode(content).encode()


_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite_float)
"""The strict decoder, one for every document (``json.loads`` with options builds one a call)."""


def _loads(raw: bytes | str) -> Any:
    """``json.loads(raw, parse_constant=…, parse_float=…)``: the same text checks, one decoder."""
    if isinstance(raw, str):
        if raw.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", raw, 0)
    elif isinstance(raw, bytes | bytearray):
        raw = raw.decode(json.detect_encoding(raw), "surrogatepass")
    else:
        raise TypeError(f"the JSON object must be str, bytes or bytearray, not {type(raw)}")
    return _DECODER.decode(raw)


def load_json(raw: bytes | str) -> Any:
    """Decode a JSON document strictly; raise :class:`InputError` for anything refused."""
    try:
        value = _loads(raw)
    except InputError:
        raise
    except RecursionError:
        raise InputError(f"nesting deeper than {MAX_DEPTH} levels") from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{exc.msg} at position {exc.pos}") from None
    except (ValueError, TypeError):  # e.g. an integer beyond the int digit limit
        raise InputError("a value is out of range") from None
    _check_tree(value)
    return value


def finite_number(value: Any) -> bool:
    """Return whether ``value`` is an int or a finite float (never a bool)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


def number_within(value: Any, low: float, high: float) -> bool:
    """Return whether ``value`` is a finite number (not a bool) within ``low..high``."""
    return finite_number(value) and low <= value <= high


def int_within(value: Any, low: int, high: int) -> bool:
    """Return whether ``value`` is an int (not a bool) within ``low..high``."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def ascii_uint(raw: str, maximum: int = INT64_MAX) -> int | None:
    """Return ``raw`` as a non-negative integer if it is ASCII digits only and <= ``maximum``.

    Leading zeros are allowed; the length is checked before any conversion, so a huge
    digit string never reaches :func:`int`.
    """
    if not raw or not raw.isascii() or not raw.isdigit():
        return None
    digits = raw.lstrip("0") or "0"
    if len(digits) > len(str(maximum)):
        return None
    value = int(digits)
    return value if value <= maximum else None
