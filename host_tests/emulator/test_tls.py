"""HTTPS with the local CA: trusted with ca.pem, refused without it."""

import ssl

import httpx
import pytest
from drsctl.emulator.server import EmulatorThread

from host_tests.fake_tokens import REFRESH


@pytest.fixture
def tls_emulator(tmp_path):
    with EmulatorThread(tmp_path / "db.sqlite3", tls=True, tls_dir=tmp_path / "tls") as em:
        yield em


def test_https_with_the_local_ca(tls_emulator, tmp_path) -> None:
    assert tls_emulator.url.startswith("https://127.0.0.1:")
    assert tls_emulator.ca_pem_path == tmp_path / "tls" / "ca.pem"
    assert {p.name for p in (tmp_path / "tls").iterdir()} == {"ca.pem", "server.pem", "server.key"}
    trusting = ssl.create_default_context(cafile=str(tls_emulator.ca_pem_path))
    with httpx.Client(base_url=tls_emulator.url, verify=trusting) as http:
        assert http.get("/_emulator/clock").status_code == 200
        info = http.post("/_emulator/provision", json={"serial": "T-1", "slots": [{"id": "a"}]})
        assert info.json()["refresh_token"].startswith(REFRESH)
    # the certificate names localhost too
    port = tls_emulator.url.rsplit(":", 1)[1]
    with httpx.Client(verify=trusting) as http:
        assert http.get(f"https://localhost:{port}/_emulator/clock").status_code == 200


def test_without_the_ca_verification_fails(tls_emulator) -> None:
    with httpx.Client(base_url=tls_emulator.url) as http:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            http.get("/_emulator/clock")


def test_certificates_are_reused(tmp_path) -> None:
    tls_dir = tmp_path / "tls"
    with EmulatorThread(tmp_path / "a.sqlite3", tls=True, tls_dir=tls_dir) as em:
        first = em.ca_pem_path.read_bytes()
    with EmulatorThread(tmp_path / "b.sqlite3", tls=True, tls_dir=tls_dir) as em:
        assert em.ca_pem_path.read_bytes() == first
        with httpx.Client(verify=ssl.create_default_context(cafile=str(em.ca_pem_path))) as http:
            assert http.get(em.url + "/_emulator/clock").status_code == 200


def test_plain_http_has_no_ca(emulator) -> None:
    assert emulator.url.startswith("http://127.0.0.1:")
    assert emulator.ca_pem_path is None
