"""Certificates, checked for real (issue 11, item 12): both emulators served over https on loopback
with a certificate authority made here, and ``syncd test-connection`` run as a process. Without
``ca_file`` the internal CA is not trusted and each side says so in plain words with the key to
set; with ``ca_file`` both pass. An expired certificate and one for another host name are named
as such, and none is retried. A ``ca_file`` that cannot serve is a configuration error (exit 2)."""

from __future__ import annotations

import ipaddress
import ssl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from syncd.adapters.whmcs import WhmcsAdapter
from syncd.adapters.wordpress import WordPressAdapter
from syncd.config import WhmcsSettings, WordPressSettings
from syncd.emulators.whmcs import WhmcsEmulator
from syncd.emulators.wordpress import WordPressEmulator
from syncd.errors import Unreachable

SECRET = "tls-test-whmcs-secret-0123456789"


@dataclass(frozen=True)
class Authority:
    """A certificate authority made for one test: its PEM file, and server certificates it signs."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    pem: Path

    def server(self, tmp: Path, *, hosts: tuple[str, ...] = ("127.0.0.1",), days: tuple[int, int] = (-1, 30),
               name: str = "server") -> ssl.SSLContext:
        """A server-side TLS context whose certificate, signed by this CA, names ``hosts`` and is
        valid from ``days[0]`` to ``days[1]`` days from now."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + timedelta(days=days[0]))
            .not_valid_after(now + timedelta(days=days[1]))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        chain = tmp / f"{name}.pem"
        chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file = tmp / f"{name}.key"
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(chain, key_file)
        return context


def authority(tmp: Path) -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "syncd test internal CA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = tmp / "internal-ca.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Authority(key, cert, pem)


@dataclass
class HttpsSides:
    whmcs_url: str
    wp_url: str
    wp_password: str
    config: Path

    def write(self, whmcs_extra: str = "", wp_extra: str = "") -> None:
        self.config.write_text(
            f'[whmcs]\nurl = "{self.whmcs_url}"\nidentifier = "syncd"\nsecret = "{SECRET}"\n{whmcs_extra}\n'
            f'[wordpress]\nurl = "{self.wp_url}"\nusername = "admin"\n'
            f'application_password = "{self.wp_password}"\n{wp_extra}\n'
            f'[sync]\nstate_url = "sqlite:///{self.config.parent / "state.db"}"\n', encoding="utf-8")

    def syncd(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "syncd", "--config", str(self.config), *args],
                              capture_output=True, text=True, timeout=120)


@contextmanager
def https_sides(tmp: Path, tls: ssl.SSLContext) -> Iterator[HttpsSides]:
    whmcs = WhmcsEmulator(identifier="syncd", secret=SECRET)
    wp = WordPressEmulator(admin_login="admin", admin_email="admin@example.com")
    password = wp.add_app_password("admin")
    with whmcs.serve(tls=tls) as whmcs_url, wp.serve(tls=tls) as wp_url:
        assert whmcs_url.startswith("https://") and wp_url.startswith("https://")
        yield HttpsSides(whmcs_url, wp_url, password, tmp / "syncd.toml")


def test_an_internal_ca_is_untrusted_in_plain_words_until_ca_file_names_it(tmp_path: Path) -> None:
    ca = authority(tmp_path)
    with https_sides(tmp_path, ca.server(tmp_path)) as sides:
        sides.write()
        untrusted = sides.syncd("test-connection")
        assert untrusted.returncode == 3, untrusted.stdout + untrusted.stderr
        out = untrusted.stdout
        for side in ("whmcs", "wordpress"):
            assert f"[{side}] FAIL" in out
            assert f"set [{side}] ca_file to the PEM file of the CA that signed it" in out
        assert out.count("its TLS certificate is not trusted") == 2
        for raw in ("CERTIFICATE_VERIFY_FAILED", "ConnectError", "SSL:", "Traceback", "Errno"):
            assert raw not in out + untrusted.stderr

        sides.write(whmcs_extra=f'ca_file = "{ca.pem}"', wp_extra=f'ca_file = "{ca.pem}"')
        trusted = sides.syncd("test-connection")
        assert trusted.returncode == 0, trusted.stdout + trusted.stderr
        assert "FAIL" not in trusted.stdout and "[wordpress] OK    REST API reachable" in trusted.stdout

        # One side's ca_file is that side's only: the other still refuses the internal CA.
        sides.write(wp_extra=f'ca_file = "{ca.pem}"')
        one = sides.syncd("test-connection", "--json")
        assert one.returncode == 3
        assert '"side": "whmcs"' in one.stdout and "set [whmcs] ca_file" in one.stdout
        assert "set [wordpress] ca_file" not in one.stdout


def test_a_ca_file_that_cannot_serve_is_a_configuration_error(tmp_path: Path) -> None:
    ca = authority(tmp_path)
    not_pem = tmp_path / "not-a-cert.txt"
    not_pem.write_text("hello\n", encoding="utf-8")
    sides = HttpsSides("https://127.0.0.1:9/", "https://127.0.0.1:9/", "Tls0nly4CaFileCheck0000X",
                       tmp_path / "syncd.toml")
    cases = {
        f'ca_file = "{tmp_path / "missing.pem"}"': "does not exist",
        f'ca_file = "{not_pem}"': "holds no PEM certificate",
        f'ca_file = "{tmp_path}"': "is a directory",
        f'ca_file = "{ca.pem}"\nverify_tls = false': "verify_tls = false checks no certificate",
    }
    for extra, said in cases.items():
        sides.write(whmcs_extra=extra)
        for command in ("check-config", "test-connection"):
            run = sides.syncd(command)
            assert run.returncode == 2, (extra, run.stdout, run.stderr)
            assert "[whmcs] ca_file" in run.stderr + run.stdout and said in run.stderr + run.stdout
            assert "Traceback" not in run.stderr
    sides.write(whmcs_extra=f'ca_file = "{ca.pem}"')
    assert sides.syncd("check-config").returncode == 0


@pytest.mark.parametrize(("hosts", "days", "said", "fix"), [
    (("127.0.0.1",), (-30, -1), "its TLS certificate has expired", "renew the certificate"),
    (("billing.example.test",), (-1, 30), "its TLS certificate is not valid for this host name",
     "url to a host name the certificate covers"),
], ids=["expired", "another-host"])
def test_an_expired_or_misnamed_certificate_is_named_and_not_retried(
        tmp_path: Path, hosts: tuple[str, ...], days: tuple[int, int], said: str, fix: str) -> None:
    ca = authority(tmp_path)
    sleeps: list[float] = []
    whmcs = WhmcsEmulator(identifier="syncd", secret=SECRET)
    wp = WordPressEmulator(admin_login="admin")
    password = wp.add_app_password("admin")
    with whmcs.serve(tls=ca.server(tmp_path, hosts=hosts, days=days)) as whmcs_url, \
            wp.serve(tls=ca.server(tmp_path, hosts=hosts, days=days, name="wp")) as wp_url:
        whmcs_settings = WhmcsSettings(url=whmcs_url, identifier="syncd", secret=SecretStr(SECRET),
                                       ca_file=ca.pem, retries=3)
        with WhmcsAdapter(whmcs_settings, SecretStr(SECRET), sleep=sleeps.append) as adapter, \
                pytest.raises(Unreachable) as w:
            adapter.call("GetClients")
        wp_settings = WordPressSettings(url=wp_url, username="admin", ca_file=ca.pem, retries=3)
        with WordPressAdapter(wp_settings, SecretStr(password), exclude_roles=[], sleep=sleeps.append) as site, \
                pytest.raises(Unreachable) as p:
            site.verify()
    for error in (w.value, p.value):
        assert said in str(error) and fix in str(error), str(error)
        assert "SSL" not in str(error) and "Error" not in str(error)
    if "host name" in said:  # each side names its own key
        assert "[whmcs] url" in str(w.value) and "[wordpress] url" in str(p.value)
    assert sleeps == [] and whmcs.calls["GetClients"] == 0  # never retried, never reached the API
