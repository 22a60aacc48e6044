"""Remit's certificate authority for agents: the CA certificate, certificate signing requests, and the X.509 client
certificates agents present for mutual-TLS client authentication (RFC 8705 §2.1, the PKI method).

* ``CertificateAuthority.create``: a key (ECDSA P-256 by default, as every TLS stack accepts it, or Ed25519) and a
  self-signed CA certificate: ``basicConstraints`` CA:true with ``pathlen`` 0, ``keyUsage`` keyCertSign and cRLSign,
  subject ``CN=Remit agent CA, O=<organization>``.
* ``parse_csr``: a PEM PKCS #10 request whose signature verifies, over an EC P-256/P-384, Ed25519 or RSA >= 2048
  key. Only its public key is used: the agent's private key never leaves the agent.
* ``CertificateAuthority.issue``: the leaf profile. Subject ``CN=<agent>``, one URI SAN, the agent's SPIFFE id,
  ``extendedKeyUsage`` clientAuth only, ``keyUsage`` digitalSignature, CA:false, subject and authority key ids, a
  random 128-bit serial, ``notBefore`` a few minutes in the past for clock skew.
* ``inspect_certificate``: a certificate a client presented on a TLS connection, checked to be one this CA signed
  (the TLS layer checked it too; the application does not take that on trust).

The certificate's SHA-256 thumbprint, base64url without padding, is the ``x5t#S256`` confirmation of the access
tokens bound to it (RFC 8705 §3.1).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from remit.errors import ValidationError
from remit.tokens import jose

CaKeyType = Literal["p256", "ed25519"]
CaPrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

CA_KEY_TYPES: Final[tuple[CaKeyType, ...]] = ("p256", "ed25519")
CA_COMMON_NAME: Final = "Remit agent CA"
#: how far in the past a certificate's ``notBefore`` is put, so that a client whose clock lags accepts it
SKEW: Final = timedelta(minutes=5)
#: the largest CSR accepted (a few keys and names fit in far less)
MAX_CSR_BYTES: Final = 16_384
MIN_RSA_BITS: Final = 2048
#: what an agent key may be, as the errors say it
ALLOWED_KEYS: Final = "EC P-256 or P-384, Ed25519, or RSA of 2048 bits or more"


class InvalidCsr(ValidationError):
    """A certificate signing request that cannot be used: not PEM PKCS #10, a signature that does not verify, or a
    key of a type or size agents may not use."""

    code = "invalid_csr"
    default_message = "the certificate signing request cannot be used"


@dataclass(frozen=True, slots=True)
class PresentedCertificate:
    """What the token endpoint needs of a client certificate this CA signed."""

    serial: str  #: lowercase hex
    thumbprint: str  #: ``x5t#S256``: base64url SHA-256 of the DER
    uris: tuple[str, ...]  #: the URI subject alternative names
    not_before: datetime
    not_after: datetime


class CertificateAuthority:
    """The CA certificate and its private key, in memory only while issuing."""

    __slots__ = ("_key", "certificate")

    def __init__(self, certificate: x509.Certificate, key: CaPrivateKey) -> None:
        if certificate.public_key() != key.public_key():
            raise ValueError("the CA private key does not fit the CA certificate")
        self.certificate = certificate
        self._key = key

    def __repr__(self) -> str:  # never the key
        return f"CertificateAuthority(subject={self.certificate.subject.rfc4514_string()!r})"

    @classmethod
    def create(
        cls, *, organization: str, now: datetime, valid_for: timedelta, key_type: CaKeyType = "p256"
    ) -> CertificateAuthority:
        """A new key and its self-signed CA certificate, valid from ``now`` (less ``SKEW``) for ``valid_for``."""
        key: CaPrivateKey
        if key_type == "p256":
            key = ec.generate_private_key(ec.SECP256R1())
        elif key_type == "ed25519":
            key = ed25519.Ed25519PrivateKey.generate()
        else:
            raise ValidationError(f"the CA key type is one of {', '.join(CA_KEY_TYPES)}", field="key_type")
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, CA_COMMON_NAME),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, _organization(organization)),
            ]
        )
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(new_serial())
            .not_valid_before(now - SKEW)
            .not_valid_after(now + valid_for)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .add_extension(ski, critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        )
        return cls(_sign(builder, key), key)

    # -- storage ------------------------------------------------------------------------------------------------

    def private_der(self) -> bytes:
        """The private key as unencrypted PKCS #8 DER: only ever handed to the key-encryption key to seal."""
        return self._key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @classmethod
    def load(cls, certificate_pem: str, private_der: bytes) -> CertificateAuthority:
        """From what ``store`` kept: the certificate PEM and the (opened) PKCS #8 DER."""
        certificate = x509.load_pem_x509_certificate(certificate_pem.encode("ascii"))
        key = serialization.load_der_private_key(private_der, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
            raise ValueError("the stored CA key is of an unsupported type")
        return cls(certificate, key)

    @property
    def certificate_pem(self) -> str:
        return certificate_pem(self.certificate)

    @property
    def key_type(self) -> CaKeyType:
        return "ed25519" if isinstance(self._key, ed25519.Ed25519PrivateKey) else "p256"

    # -- issuing ------------------------------------------------------------------------------------------------

    def issue(
        self,
        csr: x509.CertificateSigningRequest,
        *,
        agent: str,
        spiffe_id: str,
        now: datetime,
        valid_for: timedelta,
    ) -> x509.Certificate:
        """The agent's client certificate over the CSR's public key. Nothing else of the CSR is copied: the
        subject and the SAN come from the registry. Never valid beyond the CA certificate itself."""
        public = csr.public_key()
        ca = self.certificate
        not_after = min(now + valid_for, ca.not_valid_after_utc)
        ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, agent)]))
            .issuer_name(ca.subject)
            .public_key(public)  # parse_csr checked it is one of the allowed types
            .serial_number(new_serial())
            .not_valid_before(max(now - SKEW, ca.not_valid_before_utc))
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(spiffe_id)]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        )
        return _sign(builder, self._key)


# -- CSRs ---------------------------------------------------------------------------------------------------------


def parse_csr(pem: str | bytes) -> x509.CertificateSigningRequest:
    """A PEM certificate signing request whose self-signature verifies, over a key agents may use.

    Raises:
        InvalidCsr: with ``field="csr"`` and a message that says what to fix.
    """
    data = pem.encode("utf-8", "replace") if isinstance(pem, str) else pem
    if len(data) > MAX_CSR_BYTES:
        raise InvalidCsr(f"the CSR is larger than {MAX_CSR_BYTES} bytes", field="csr")
    if b"-----BEGIN CERTIFICATE REQUEST-----" not in data:
        raise InvalidCsr("the CSR must be PEM text starting with -----BEGIN CERTIFICATE REQUEST-----", field="csr")
    try:
        csr = x509.load_pem_x509_csr(data)
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidCsr("the CSR is not a readable PEM PKCS #10 certificate request", field="csr") from None
    try:
        public = csr.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidCsr(f"the CSR's key cannot be read; agent keys are {ALLOWED_KEYS}", field="csr") from None
    check_agent_key(public)
    try:
        valid = csr.is_signature_valid
    except (ValueError, UnsupportedAlgorithm, InvalidSignature):
        valid = False
    if not valid:
        raise InvalidCsr("the CSR's signature does not verify with its own key", field="csr")
    return csr


def check_agent_key(public: object) -> None:
    """Refuse a public key agents may not use (``InvalidCsr``)."""
    if isinstance(public, ec.EllipticCurvePublicKey):
        if public.curve.name not in ("secp256r1", "secp384r1"):
            raise InvalidCsr(f"the CSR's EC key is on {public.curve.name}; agent keys are {ALLOWED_KEYS}", field="csr")
        return
    if isinstance(public, ed25519.Ed25519PublicKey):
        return
    if isinstance(public, rsa.RSAPublicKey):
        if public.key_size < MIN_RSA_BITS:
            bits = public.key_size
            raise InvalidCsr(f"the CSR's RSA key has {bits} bits; agent keys are {ALLOWED_KEYS}", field="csr")
        return
    raise InvalidCsr(f"the CSR's key type is not accepted; agent keys are {ALLOWED_KEYS}", field="csr")


# -- certificates -----------------------------------------------------------------------------------------------


def inspect_certificate(der: bytes, ca: x509.Certificate) -> PresentedCertificate | None:
    """A presented client certificate, if ``ca`` signed it directly; None for anything else (not DER, another
    issuer, a signature that does not verify, a CA certificate)."""
    try:
        cert = x509.load_der_x509_certificate(der)
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return None
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return None
    if constraints.ca or ExtendedKeyUsageOID.CLIENT_AUTH not in usage:
        return None
    return PresentedCertificate(
        serial=serial_hex(cert.serial_number),
        thumbprint=thumbprint(der),
        uris=tuple(san.get_values_for_type(x509.UniformResourceIdentifier)),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def thumbprint(der: bytes) -> str:
    """``x5t#S256`` (RFC 8705 §3.1): base64url, without padding, of the SHA-256 of the DER certificate; the same
    value ``jose.certificate_thumbprint`` gives, which verifiers compare with the token's ``cnf``."""
    return jose.certificate_thumbprint(der)


def certificate_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def certificate_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def load_pem_certificate(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode("ascii"))


def pem_to_der(pem: str) -> bytes | None:
    """One PEM certificate as DER, or None when the text is not one."""
    try:
        return certificate_der(x509.load_pem_x509_certificate(pem.encode("utf-8", "replace")))
    except (ValueError, UnsupportedAlgorithm):
        return None


def new_serial() -> int:
    """A random positive 128-bit serial (RFC 5280 §4.1.2.2: at most 20 octets; CA/B forum: 64+ random bits)."""
    return int.from_bytes(secrets.token_bytes(16), "big") | 1


def serial_hex(serial: int) -> str:
    return f"{serial:x}"


def _organization(value: str) -> str:
    text = value.strip()
    if not text or len(text) > 64 or not text.isprintable():
        raise ValidationError("the organization is 1 to 64 printable characters", field="organization")
    return text


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _sign(builder: x509.CertificateBuilder, key: CaPrivateKey) -> x509.Certificate:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return builder.sign(key, None)  # Ed25519 hashes internally
    return builder.sign(key, hashes.SHA256())
