"""``amazon_roots.pem``: the root CAs that Amazon's endpoints chain to, for the device.

Taken at deploy time from the pinned ``certifi`` bundle (Mozilla's root program), never
pasted by hand: the roots are selected by subject, each checked to be a self-signed CA
certificate, and a bundle that lacks one is an error (``CaBundleError``) instead of a
device that cannot reach Amazon. LwA (``api.amazon.com``) and DRS chain to Amazon
Root CA 1-4; older Amazon endpoints still chain to Starfield Services Root G2.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

# (organization, common name) of each root, in the order they are written
AMAZON_ROOTS: tuple[tuple[str, str], ...] = (
    ("Amazon", "Amazon Root CA 1"),
    ("Amazon", "Amazon Root CA 2"),
    ("Amazon", "Amazon Root CA 3"),
    ("Amazon", "Amazon Root CA 4"),
    ("Starfield Technologies, Inc.", "Starfield Services Root Certificate Authority - G2"),
)
BUNDLE_NAME = "amazon_roots.pem"


class CaBundleError(Exception):
    """The maintained bundle does not hold the roots the device needs."""


def _subject_key(cert: x509.Certificate) -> tuple[str, str]:
    def attribute(oid: x509.ObjectIdentifier) -> str:
        values = cert.subject.get_attributes_for_oid(oid)
        return str(values[0].value) if values else ""

    return attribute(NameOID.ORGANIZATION_NAME), attribute(NameOID.COMMON_NAME)


def _is_self_signed_ca(cert: x509.Certificate) -> bool:
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    return constraints.ca and cert.issuer == cert.subject


def load_certificates(pem: bytes) -> list[x509.Certificate]:
    """All certificates of a PEM bundle.

    Starfield Services Root G2 has serial number 0, which RFC 5280 disallows:
    cryptography still loads it, with a deprecation warning that is silenced here (if a
    future release refuses it, this is where it shows).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Parsed a serial number")
        return x509.load_pem_x509_certificates(pem)


def select_roots(
    source_pem: bytes, wanted: tuple[tuple[str, str], ...] = AMAZON_ROOTS
) -> list[x509.Certificate]:
    """The certificates of source_pem whose subject is in wanted, in wanted's order."""
    by_subject = {_subject_key(c): c for c in load_certificates(source_pem)}
    missing = [cn for key in wanted if key not in by_subject for cn in key[1:]]
    if missing:
        raise CaBundleError(
            f"certifi {certifi.__version__} lacks {', '.join(missing)}: "
            "pin a certifi release that has them (requirements.txt)"
        )
    roots = [by_subject[key] for key in wanted]
    for cert, (_, name) in zip(roots, wanted, strict=True):
        if not _is_self_signed_ca(cert):
            raise CaBundleError(f"{name} in certifi is not a self-signed CA certificate")
    return roots


def amazon_roots_pem(source: Path | None = None) -> bytes:
    """The bundle as PEM, each root preceded by a comment line naming it."""
    data = Path(source or certifi.where()).read_bytes()
    parts = []
    for cert in select_roots(data):
        parts.append(f"# {_subject_key(cert)[1]}\n".encode())
        parts.append(cert.public_bytes(Encoding.PEM))
    return b"".join(parts)


def write_amazon_roots(dest: Path) -> Path:
    """Write the bundle to dest (a directory gets ``amazon_roots.pem`` inside it)."""
    path = dest / BUNDLE_NAME if dest.is_dir() else dest
    path.write_bytes(amazon_roots_pem())
    return path
