"""A local certificate authority for serving the emulator over HTTPS.

:func:`ensure_certs` writes ``ca.pem`` (give it to clients), ``server.pem`` (leaf +
chain) and ``server.key`` for ``localhost`` and ``127.0.0.1`` into a directory, and
reuses them when all three already exist. RSA keys, which every TLS stack (mbedTLS on
the ESP32 and the MicroPython unix port included) handles.
"""

import dataclasses
from pathlib import Path

import trustme


@dataclasses.dataclass(frozen=True)
class CertPaths:
    """Where the CA and server credentials live."""

    ca_pem: Path
    server_pem: Path
    server_key: Path


def ensure_certs(directory: str | Path) -> CertPaths:
    """Create (or reuse) the CA and the server certificate in ``directory``."""
    directory = Path(directory)
    paths = CertPaths(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    if all(p.is_file() for p in dataclasses.astuple(paths)):
        return paths
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="drsctl emulator", key_type=trustme.KeyType.RSA)
    leaf = ca.issue_cert("localhost", "127.0.0.1", key_type=trustme.KeyType.RSA)
    ca.cert_pem.write_to_path(str(paths.ca_pem))
    paths.server_pem.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(paths.server_key))
    paths.server_key.chmod(0o600)
    return paths
