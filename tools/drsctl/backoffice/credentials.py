"""Where ``drsctl orders`` finds its SP-API credentials, and how it talks about them.

Two sources, per field: the environment (``SPAPI_*``) wins over a JSON config file
(``--config``, by default ``~/.config/drsctl/spapi.json``). The config file is flat::

    {"endpoint": "https://127.0.0.1:8443", "lwa_url": "https://127.0.0.1:8443/auth/o2/token",
     "client_id": "amzn1.application-oa2-client...", "client_secret": "...",
     "refresh_token": "<LwA refresh token>", "ca_bundle": "/path/to/ca.pem"}

and may instead carry the three LwA fields in an ``"lwa"`` object, so the answer of the
emulator's ``POST /_emulator/sellers`` plus an ``"endpoint"`` is a valid config file.
A relative ``ca_bundle`` is relative to the config file's folder.

Secrets (client secret, refresh token) are never part of a message, a ``repr`` or an
exception: :meth:`SpApiCredentials.describe` names where they came from, not what they are.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ENV_VARS: dict[str, str] = {
    "endpoint": "SPAPI_ENDPOINT",
    "lwa_url": "SPAPI_LWA_URL",
    "client_id": "SPAPI_CLIENT_ID",
    "client_secret": "SPAPI_CLIENT_SECRET",
    "refresh_token": "SPAPI_REFRESH_TOKEN",
    "ca_bundle": "SPAPI_CA_BUNDLE",
}
DEFAULT_CONFIG = Path("~/.config/drsctl/spapi.json")
DEFAULT_ENDPOINT = "https://sellingpartnerapi-na.amazon.com"
AMAZON_LWA_URL = "https://api.amazon.com/auth/o2/token"
REQUIRED = ("client_id", "client_secret", "refresh_token")
SECRET_FIELDS = ("client_secret", "refresh_token")


class CredentialsError(Exception):
    """The credentials are missing or unusable (a usage error: exit code 2)."""


@dataclass(frozen=True)
class SpApiCredentials:
    """What an SP-API call needs, and where each part came from (``sources``)."""

    endpoint: str
    lwa_url: str
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    ca_bundle: Path | None = None
    sources: dict[str, str] = field(default_factory=dict)

    def secrets(self) -> tuple[str, ...]:
        """The values that must never be shown (for redaction)."""
        return tuple(v for v in (self.client_secret, self.refresh_token) if v)

    def describe(self) -> str:
        """Name the credential source(s) without showing any secret.

        Example: ``environment (SPAPI_CLIENT_ID, SPAPI_CLIENT_SECRET, SPAPI_REFRESH_TOKEN)``
        or ``config file /home/me/.config/drsctl/spapi.json``.
        """
        by_source: dict[str, list[str]] = {}
        for name in REQUIRED:
            by_source.setdefault(self.sources.get(name, "defaults"), []).append(name)
        parts = []
        for source, names in by_source.items():
            if source == "environment":
                parts.append("environment (" + ", ".join(ENV_VARS[n] for n in names) + ")")
            elif len(by_source) == 1:
                parts.append(source)
            else:
                parts.append(f"{source} ({', '.join(names)})")
        return " and ".join(parts)


def _read_config(path: Path) -> dict[str, str]:
    """Return the string fields of a config file (flat, or LwA fields under ``"lwa"``)."""
    try:
        raw = json.loads(path.read_text())
    except OSError as exc:
        raise CredentialsError(f"cannot read config file {path}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        # The position only: the message of a JSON error can quote the file (secrets).
        where = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise CredentialsError(f"config file {path} is not valid JSON{where}") from None
    if not isinstance(raw, dict):
        raise CredentialsError(f"config file {path} must hold a JSON object")
    flat: dict[str, object] = dict(raw)
    nested = raw.get("lwa")
    if isinstance(nested, dict):
        for name in REQUIRED:
            flat.setdefault(name, nested.get(name))
    values: dict[str, str] = {}
    for name in ENV_VARS:
        value = flat.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise CredentialsError(f'config file {path}: "{name}" must be a string')
        if value:
            values[name] = value
    if "ca_bundle" in values:  # relative to the config file, not to the working directory
        values["ca_bundle"] = str(path.parent / Path(values["ca_bundle"]).expanduser())
    return values


def _default_lwa_url(endpoint: str) -> str:
    """Amazon's LwA for Amazon endpoints; the same server's ``/auth/o2/token`` otherwise."""
    host = urlsplit(endpoint).hostname or ""
    if host == "amazon.com" or host.endswith(".amazon.com"):
        return AMAZON_LWA_URL
    return endpoint.rstrip("/") + "/auth/o2/token"


def _check_url(name: str, url: str, source: str) -> str:
    """Return ``url`` if it is http(s) with a host (the endpoint without a trailing ``/``)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CredentialsError(f"{name} from {source} is not an http(s) URL: {url!r}")
    return url.rstrip("/") if name == "endpoint" else url


def load_credentials(
    config: Path | None = None, env: Mapping[str, str] | None = None
) -> SpApiCredentials:
    """Collect the credentials: environment first, then the config file, then defaults.

    ``config`` None means the default path, which may be absent; a path given explicitly
    must exist. Raises :class:`CredentialsError` naming every missing field and where it
    could come from.
    """
    env = os.environ if env is None else env
    explicit = config is not None
    path = (config or DEFAULT_CONFIG).expanduser()
    file_values: dict[str, str] = {}
    if path.exists() or explicit:
        file_values = _read_config(path)
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for name, var in ENV_VARS.items():
        if env.get(var):
            values[name], sources[name] = env[var], "environment"
        elif name in file_values:
            values[name], sources[name] = file_values[name], f"config file {path}"
    missing = [n for n in REQUIRED if n not in values]
    if missing:
        names = ", ".join(ENV_VARS[n] for n in missing)
        keys = ", ".join(f'"{n}"' for n in missing)
        where = f"config file {path}" + ("" if path.exists() else " (not found)")
        raise CredentialsError(
            f"missing SP-API credentials: set {names} in the environment or {keys} in {where}"
        )
    endpoint = _check_url(
        "endpoint", values.get("endpoint", DEFAULT_ENDPOINT), sources.get("endpoint", "defaults")
    )
    lwa_url = _check_url(
        "lwa_url",
        values.get("lwa_url") or _default_lwa_url(endpoint),
        sources.get("lwa_url", "defaults"),
    )
    ca_bundle = None
    if "ca_bundle" in values:
        ca_bundle = Path(values["ca_bundle"]).expanduser()
        if not ca_bundle.is_file():
            raise CredentialsError(
                f"CA bundle {ca_bundle} (from {sources['ca_bundle']}) is not a readable file"
            )
    return SpApiCredentials(
        endpoint=endpoint,
        lwa_url=lwa_url,
        client_id=values["client_id"],
        client_secret=values["client_secret"],
        refresh_token=values["refresh_token"],
        ca_bundle=ca_bundle,
        sources=sources,
    )
