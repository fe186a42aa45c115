"""Test PKI for the integration harness: a mesh CA, Envoy's server certificate and client certificates shaped
like the ones the filter meets in practice (Istio workload certificates with only a SPIFFE URI SAN and an empty
subject; classic certificates with only a subject DN), plus a certificate from a rogue CA.

Every file is PEM: `<name>.crt` and `<name>.key` (unencrypted PKCS#8) in the output directory, and `ca.crt`.
Run as a script to (re)generate: `python integration/harness/certs.py integration/.run/certs`.
"""

from __future__ import annotations

import datetime
import ipaddress
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class ClientCert:
    """A client certificate to issue. `subject` is a list of (attribute OID, value) in issuing order, so the
    RFC 2253 form Envoy reports is the reverse (e.g. [O=acme, CN=x] is reported as `CN=x,O=acme`)."""

    name: str
    subject: list = field(default_factory=list)
    uri_sans: list = field(default_factory=list)
    rogue: bool = False
    description: str = ""


def _name(pairs) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in pairs])


# The certificates the tests use, by name.
CLIENT_CERTS = [
    ClientCert(
        "mesh-default",
        uri_sans=["spiffe://cluster.local/ns/kafka/sa/default"],
        description="in-mesh workload kafka/default (Istio style: URI SAN only, empty subject)",
    ),
    ClientCert(
        "mesh-admin",
        uri_sans=["spiffe://cluster.local/ns/kafka/sa/admin"],
        description="in-mesh workload kafka/admin",
    ),
    ClientCert(
        "mesh-checkout",
        uri_sans=["spiffe://cluster.local/ns/payments/sa/checkout"],
        description="in-mesh workload payments/checkout",
    ),
    ClientCert(
        "external",
        subject=[(NameOID.ORGANIZATION_NAME, "acme"), (NameOID.COMMON_NAME, "external-kafkauser")],
        description="outside-mesh client, subject CN=external-kafkauser,O=acme only",
    ),
    ClientCert(
        "stranger",
        subject=[(NameOID.ORGANIZATION_NAME, "elsewhere"), (NameOID.COMMON_NAME, "stranger")],
        description="client whose DN CN=stranger,O=elsewhere matches no mapping rule",
    ),
    ClientCert(
        "rogue",
        uri_sans=["spiffe://cluster.local/ns/kafka/sa/admin"],
        rogue=True,
        description="claims kafka/admin but is issued by another CA",
    ),
]


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _write(out: Path, name: str, cert: x509.Certificate, key) -> None:
    (out / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path = out / f"{name}.key"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)


def _ca(common_name: str, now: datetime.datetime):
    key = _key()
    name = _name([(NameOID.ORGANIZATION_NAME, "kafka-mtls-filter tests"), (NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(ca_cert, ca_key, subject: x509.Name, sans: list, now: datetime.datetime, not_after=None):
    key = _key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(not_after or now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            # Istio issues workload certificates for both roles; so do we, for the server too.
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if sans:
        # RFC 5280 4.2.1.6: with an empty subject the SAN extension must be critical (Istio does this).
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=len(subject) == 0)
    return builder.sign(ca_key, hashes.SHA256()), key


def generate(out_dir: str | Path) -> Path:
    """Writes the CA, server and client certificates into `out_dir` (created if needed) and returns it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_cert, ca_key = _ca("kafka-mtls-filter test mesh CA", now)
    rogue_cert, rogue_key = _ca("rogue CA", now)
    (out / "ca.crt").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    _write(out, "ca", ca_cert, ca_key)  # the key, for issue_short_lived()
    (out / "rogue-ca.crt").write_bytes(rogue_cert.public_bytes(serialization.Encoding.PEM))

    server_cert, server_key = _leaf(
        ca_cert,
        ca_key,
        _name([(NameOID.COMMON_NAME, "localhost")]),
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
        now=now,
    )
    _write(out, "server", server_cert, server_key)

    for spec in CLIENT_CERTS:
        issuer_cert, issuer_key = (rogue_cert, rogue_key) if spec.rogue else (ca_cert, ca_key)
        cert, key = _leaf(
            issuer_cert,
            issuer_key,
            _name(spec.subject),
            [x509.UniformResourceIdentifier(uri) for uri in spec.uri_sans],
            now=now,
        )
        _write(out, spec.name, cert, key)
    return out


def issue_short_lived(out_dir: str | Path, name: str, uri_san: str, valid_seconds: float) -> datetime.datetime:
    """Issues `<name>.crt`/`.key` from the mesh CA of `out_dir` (made by generate()), with only `uri_san` and
    valid until `valid_seconds` from now (rounded up to the second, as X.509 dates are); returns its notAfter."""
    out = Path(out_dir)
    ca_cert = x509.load_pem_x509_certificate((out / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((out / "ca.key").read_bytes(), password=None)
    now = datetime.datetime.now(datetime.timezone.utc)
    not_after = (now + datetime.timedelta(seconds=valid_seconds + 1)).replace(microsecond=0)
    cert, key = _leaf(ca_cert, ca_key, _name([]), [x509.UniformResourceIdentifier(uri_san)], now, not_after)
    _write(out, name, cert, key)
    return not_after


if __name__ == "__main__":
    target = generate(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / ".run" / "certs")
    for spec in CLIENT_CERTS:
        print(f"{target / spec.name}.crt  {spec.description}")
