"""Validate SP-API answers against Amazon's Orders v0 model (Swagger 2.0, ``models/``).

Swagger 2.0 schemas are JSON Schema draft 4 plus ``#/definitions/...`` references into
the model; :func:`resolved` inlines those references itself (the model has no cycles)
and, in strict mode, closes every object (``additionalProperties: false``) so a field
the model does not know fails validation too.
"""

import copy
import functools
import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema

MODEL_PATH = Path(__file__).parent / "models" / "ordersV0.json"


@functools.cache
def model() -> dict[str, Any]:
    """Return the parsed model."""
    return json.loads(MODEL_PATH.read_text())


def resolved(schema: Any, strict: bool = True) -> Any:
    """Return ``schema`` with every ``$ref`` inlined (objects closed when ``strict``)."""
    definitions = model()["definitions"]
    if isinstance(schema, list):
        return [resolved(item, strict) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/definitions/")
        return resolved(copy.deepcopy(definitions[name]), strict)
    out = {
        key: resolved(value, strict)
        for key, value in schema.items()
        if not key.startswith("x-") and key != "example"
    }
    if "properties" in out:
        out["properties"] = {k: resolved(v, strict) for k, v in schema["properties"].items()}
        if strict and out.get("type") == "object":
            out.setdefault("additionalProperties", False)
    return out


@functools.cache
def _validator(definition: str) -> jsonschema.Draft4Validator:
    schema = resolved({"$ref": f"#/definitions/{definition}"})
    return jsonschema.Draft4Validator(schema)


def validate(definition: str, instance: Any) -> None:
    """Validate ``instance`` against one definition of the model (raises on failure)."""
    _validator(definition).validate(instance)


def operation(operation_id: str) -> tuple[str, str, dict[str, Any]]:
    """Return (method, path, operation object) of an operation id."""
    for path, item in model()["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                return method.upper(), path, op
    raise KeyError(operation_id)


def check_response(operation_id: str, response: httpx.Response) -> Any:
    """Check an answer against the operation's declared response; return the JSON body.

    The status must be declared, the body must validate against its schema (or be
    empty when none is declared) and the declared headers must be present.
    """
    _, _, op = operation(operation_id)
    declared = op["responses"].get(str(response.status_code))
    assert declared is not None, f"{operation_id}: undeclared status {response.status_code}"
    for header in declared.get("headers", {}):
        assert header in response.headers, f"{operation_id}: missing header {header}"
    schema = declared.get("schema")
    if schema is None:
        assert response.content == b"", f"{operation_id}: {response.status_code} has a body"
        return None
    body = response.json()
    jsonschema.Draft4Validator(resolved(schema)).validate(body)
    return body


def check_error(operation_id: str, response: httpx.Response, status: int, code: str) -> str:
    """Check an error answer's status, shape and first code; return its message."""
    assert response.status_code == status, (response.status_code, response.text)
    body = check_response(operation_id, response)
    assert body["errors"][0]["code"] == code, body
    assert "payload" not in body
    return str(body["errors"][0]["message"])
