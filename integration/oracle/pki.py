"""The oracle's own PKI: a CA, the server certificate (Envoy's listener and Kafka's SSL listener share it) and
client certificates whose subject DN Kafka's `ssl.principal.mapping.rules` maps to the same principal the filter
derives, so path A (Kafka's SSL listener) and path B (Envoy + filter) see one identity per certificate.

Files: `<name>.crt`, `<name>.key` (PEM, as Envoy and the test harness use them) and `<name>.p12` (PKCS#12,
password `oracle`, for the Java driver and Kafka's keystore); `ca.crt`.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PASSWORD = b"oracle"
# Kafka's ssl.principal.mapping.rules and the filter's identity.subject.mappingRules: the same string.
MAPPING_RULES = "RULE:^CN=([^,]+),O=acme$/$1/L,DEFAULT"
SPIFFE_TEMPLATE = "CN={namespace}-{serviceAccount}"


@dataclass(frozen=True)
class Client:
    name: str
    subject: tuple  # (OID, value) pairs in issuing order: the RFC 2253 form is the reverse
    principal: str  # what both Kafka and the filter derive
    spiffe: str = ""


CLIENTS = [
    Client("alice", ((NameOID.ORGANIZATION_NAME, "acme"), (NameOID.COMMON_NAME, "alice")), "User:alice"),
    # The rule's /L: CN=Bob maps to bob on both sides.
    Client("bob", ((NameOID.ORGANIZATION_NAME, "acme"), (NameOID.COMMON_NAME, "Bob")), "User:bob"),
    # No RULE matches (an OU): DEFAULT, the whole DN.
    Client("carol", ((NameOID.ORGANIZATION_NAME, "acme"), (NameOID.ORGANIZATIONAL_UNIT_NAME, "ops"),
                     (NameOID.COMMON_NAME, "carol")), "User:CN=carol,OU=ops,O=acme"),
    # Istio-like workload certificate that also carries a subject: the filter (prefer spiffe) derives
    # User:CN=kafka-default from the SPIFFE ID through its template, Kafka (DEFAULT rule) from the DN CN=kafka-default.
    Client("mesh", ((NameOID.COMMON_NAME, "kafka-default"),), "User:CN=kafka-default",
           spiffe="spiffe://cluster.local/ns/kafka/sa/default"),
    Client("admin", ((NameOID.ORGANIZATION_NAME, "acme"), (NameOID.COMMON_NAME, "admin")), "User:admin"),
]  # fmt: skip
SUPER_USER = "User:admin"


def _builder(subject: x509.Name, issuer: x509.Name, public_key, now, ca: bool):
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
    )


def _write(out: Path, name: str, cert, key) -> None:
    (out / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (out / f"{name}.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (out / f"{name}.p12").write_bytes(
        pkcs12.serialize_key_and_certificates(
            name.encode(), key, cert, None, serialization.BestAvailableEncryption(PASSWORD)
        )
    )


def generate(out: Path) -> Path:
    """Writes the PKI into `out` once (kept across runs of the same run directory)."""
    out.mkdir(parents=True, exist_ok=True)
    if (out / ".complete").exists():
        return out
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kmf oracle CA")])
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key(), now, ca=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    (out / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    usage = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH])
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        _builder(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]), ca_name, key.public_key(), now, False
        )
        .add_extension(usage, critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write(out, "server", server, key)
    for client in CLIENTS:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(oid, value) for oid, value in client.subject])
        builder = _builder(subject, ca_name, key.public_key(), now, False).add_extension(usage, critical=False)
        if client.spiffe:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.UniformResourceIdentifier(client.spiffe)]), critical=False
            )
        _write(out, client.name, builder.sign(ca_key, hashes.SHA256()), key)
    (out / ".complete").touch()
    return out
