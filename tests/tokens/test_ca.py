"""Remit's CA engine: the CA certificate, CSR checks and the agent leaf profile (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from remit.errors import ValidationError
from remit.tokens.ca import (
    SKEW,
    CertificateAuthority,
    InvalidCsr,
    certificate_der,
    inspect_certificate,
    parse_csr,
    thumbprint,
)
from tests.tokens.certs import agent_key, csr_pem, tampered

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SPIFFE = "spiffe://remit.local/agent/helpdesk"


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.create(organization="Example Corp", now=NOW, valid_for=timedelta(days=1826))


def issue(ca: CertificateAuthority, kind: str = "p256", **options: object) -> x509.Certificate:
    csr = parse_csr(csr_pem(agent_key(kind)))
    valid_for = options.pop("valid_for", timedelta(hours=24))
    assert isinstance(valid_for, timedelta)
    return ca.issue(csr, agent="helpdesk", spiffe_id=SPIFFE, now=NOW, valid_for=valid_for)


@pytest.mark.parametrize("key_type", ["p256", "ed25519"])
def test_ca_certificate_profile(key_type: str) -> None:
    made = CertificateAuthority.create(
        organization="Example Corp",
        now=NOW,
        valid_for=timedelta(days=1826),
        key_type="ed25519" if key_type == "ed25519" else "p256",
    )
    cert = made.certificate
    assert made.key_type == key_type
    assert cert.subject == cert.issuer
    assert cert.subject.rfc4514_string() == "O=Example Corp,CN=Remit agent CA"
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert (constraints.critical, constraints.value.ca, constraints.value.path_length) == (True, True, 0)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert not usage.value.digital_signature
    assert (cert.not_valid_before_utc, cert.not_valid_after_utc) == (NOW - SKEW, NOW + timedelta(days=1826))
    public = cert.public_key()
    assert isinstance(public, ed25519.Ed25519PublicKey if key_type == "ed25519" else ec.EllipticCurvePublicKey)
    cert.verify_directly_issued_by(cert)  # self-signed
    again = CertificateAuthority.load(made.certificate_pem, made.private_der())
    assert again.certificate == cert and "PRIVATE" not in repr(again)


def test_ca_refuses_a_bad_organization_or_key_type() -> None:
    with pytest.raises(ValidationError) as bad:
        CertificateAuthority.create(organization=" ", now=NOW, valid_for=timedelta(days=1))
    assert (bad.value.field, bad.value.message) == ("organization", "the organization is 1 to 64 printable characters")
    with pytest.raises(ValidationError) as kind:
        CertificateAuthority.create(organization="x", now=NOW, valid_for=timedelta(days=1), key_type="rsa")  # type: ignore[arg-type]
    assert kind.value.field == "key_type"


@pytest.mark.parametrize("kind", ["p256", "p384", "ed25519", "rsa2048"])
def test_leaf_profile(ca: CertificateAuthority, kind: str) -> None:
    key = agent_key(kind)
    cert = ca.issue(parse_csr(csr_pem(key)), agent="helpdesk", spiffe_id=SPIFFE, now=NOW, valid_for=timedelta(hours=24))
    # only the public key comes from the CSR: the subject and SAN it asked for are ignored
    assert cert.public_key() == key.public_key()
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "helpdesk"
    assert len(cert.subject) == 1
    assert cert.issuer == ca.certificate.subject
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert list(san) == [x509.UniformResourceIdentifier(SPIFFE)]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and not constraints.value.ca
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest
    assert (cert.not_valid_before_utc, cert.not_valid_after_utc) == (NOW - SKEW, NOW + timedelta(hours=24))
    assert 2**64 < cert.serial_number < 2**128
    cert.verify_directly_issued_by(ca.certificate)


def test_serials_are_random(ca: CertificateAuthority) -> None:
    assert len({issue(ca).serial_number for _ in range(5)}) == 5


def test_leaf_never_outlives_the_ca(ca: CertificateAuthority) -> None:
    cert = issue(ca, valid_for=timedelta(days=5000))
    assert cert.not_valid_after_utc == ca.certificate.not_valid_after_utc


@pytest.mark.parametrize(
    ("pem", "message"),
    [
        ("hello", "the CSR must be PEM text starting with -----BEGIN CERTIFICATE REQUEST-----"),
        (
            "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
            "the CSR is not a readable PEM PKCS #10 certificate request",
        ),
        ("-----BEGIN CERTIFICATE REQUEST-----" + "A" * 20_000, "the CSR is larger than 16384 bytes"),
    ],
    ids=["not-pem", "garbage-der", "too-large"],
)
def test_garbage_csr(pem: str, message: str) -> None:
    with pytest.raises(InvalidCsr) as bad:
        parse_csr(pem)
    assert (bad.value.code, bad.value.field, bad.value.message) == ("invalid_csr", "csr", message)


def test_csr_with_a_bad_signature() -> None:
    with pytest.raises(InvalidCsr) as bad:
        parse_csr(tampered(csr_pem(agent_key("p256"))))
    assert bad.value.message == "the CSR's signature does not verify with its own key"


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("rsa1024", "the CSR's RSA key has 1024 bits; agent keys are EC P-256 or P-384, Ed25519, or RSA of 2048 bits"),
        ("p521", "the CSR's EC key is on secp521r1; agent keys are EC P-256 or P-384, Ed25519, or RSA of 2048 bits"),
    ],
)
def test_csr_with_a_refused_key(kind: str, message: str) -> None:
    with pytest.raises(InvalidCsr) as bad:
        parse_csr(csr_pem(agent_key(kind)))
    assert bad.value.field == "csr"
    assert bad.value.message == message + " or more"


def test_inspect_accepts_only_our_client_certificates(ca: CertificateAuthority) -> None:
    cert = issue(ca)
    der = certificate_der(cert)
    seen = inspect_certificate(der, ca.certificate)
    assert seen is not None
    assert (seen.serial, seen.thumbprint, seen.uris) == (f"{cert.serial_number:x}", thumbprint(der), (SPIFFE,))
    assert (seen.not_before, seen.not_after) == (cert.not_valid_before_utc, cert.not_valid_after_utc)
    other = CertificateAuthority.create(organization="Example Corp", now=NOW, valid_for=timedelta(days=1))
    assert inspect_certificate(certificate_der(issue(other)), ca.certificate) is None  # same name, other key
    assert inspect_certificate(certificate_der(ca.certificate), ca.certificate) is None  # the CA itself
    assert inspect_certificate(b"not a certificate", ca.certificate) is None


def test_thumbprint_is_base64url_sha256() -> None:
    assert thumbprint(b"") == "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
