"""Published JOSE vectors through the verifier: Wycheproof JWS, Ed25519 and P-256 cases, and the RFC 7520 cookbook.

The data lives in ``tests/conformance/data/jose`` (provenance in its README). A missing folder fails the run at
collection: it is never skipped.

What "passing" means here:

* every Wycheproof JWS case marked ``invalid`` is refused, with ``invalid_token`` (401);
* every case marked ``valid`` is accepted when the allow-list is set to its group's algorithm, if that algorithm is
  one we verify at all (asymmetric). HMAC groups cannot be configured (``VerifyPolicy`` refuses ``HS*``), so their
  ``valid`` cases are refused, by design: Remit never accepts a shared-secret token;
* with the DEFAULT allow-list (EdDSA, ES256) every case of another algorithm is refused;
* the raw Ed25519 and P-256 (P1363, the ES256 encoding) cases give exactly the expected result through the
  signature primitive under our JWS code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from remit.errors import ConfigurationError
from remit.tokens import jose
from remit.tokens.errors import InvalidKey, InvalidToken, JoseError
from remit.tokens.verify import KeySet, VerifyPolicy, verify_jws

REPO = Path(__file__).resolve().parents[2]
ROOT = REPO / "tests" / "conformance" / "data" / "jose"
WYCHEPROOF = ROOT / "upstream" / "C2SP-wycheproof" / "testvectors_v1"
COOKBOOK = ROOT / "upstream" / "ietf-jose-cookbook"

ISSUER = "https://remit.example"
DEFAULT_ALGORITHMS = ("EdDSA", "ES256")

#: Upstream errata in the Wycheproof copies of the RFC 7520 keys (group index -> the key's correct ``alg``):
#: the ES512 key says ``"ES521"``, an algorithm that does not exist (RFC 7518 §3.1 names P-521 with SHA-512
#: ``ES512``); the RSA-PSS key says ``"PS256"`` while RFC 7520 §4.2 (Figure 20), and the token, use ``PS384``.
#: RFC 7520's own keys carry no ``alg``. We correct the member here and check that the uncorrected keys are refused.
ALG_ERRATA = {10: ("PS256", "PS384"), 11: ("ES521", "ES512"), 14: ("PS256", "PS384"), 15: ("ES521", "ES512")}

#: Wycheproof marks these base64 cases ``valid`` although a ``?`` is inserted in the header or payload: its
#: decoder skips the character. RFC 7515 §2 allows no character outside the base64url alphabet, so we refuse them.
STRICTER_BASE64 = {372, 373}

#: Two ``invalid`` base64 cases ("invalidBase64Padding", "...InPayload") hold, byte for byte, the token of the
#: ``valid`` case 357: whatever was wrong with their padding did not survive into the file. No parser can tell them
#: apart; the verifier refuses all three anyway (HS256).
SAME_AS_VALID_357 = {367, 370}


@cache
def load(path: Path) -> Any:
    """A conformance file, parsed. Missing data raises at collection time, which fails the run."""
    if not ROOT.is_dir():
        raise FileNotFoundError(f"the JOSE conformance data is missing: expected {ROOT} in the repository")
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# -- Wycheproof JWS -----------------------------------------------------------------------------------------


def jws_cases() -> list[Any]:
    groups = load(WYCHEPROOF / "json_web_signature_test.json")["testGroups"]
    return [
        pytest.param(index, case, id=f"{case['tcId']}-{group['comment']}-{case['comment']}")
        for index, group in enumerate(groups)
        for case in group["tests"]
    ]


def group_key(index: int, group: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The group's verification JWK (public, else the symmetric one), and its algorithm with errata applied."""
    jwk = dict(group.get("public") or group["private"])
    if index in ALG_ERRATA:
        wrong, right = ALG_ERRATA[index]
        assert jwk["alg"] == wrong
        jwk["alg"] = right
    alg: str | None = jwk.get("alg")
    return jwk, alg


def lookup_for(jwk: dict[str, Any]) -> tuple[KeySet, str | None]:
    """The group's key as our registry would hold it; a key we refuse to import leaves the registry empty."""
    try:
        return KeySet([jose.PublicKey.from_jwk(jwk)]), None
    except InvalidKey as exc:
        return KeySet([]), exc.message


def policy_for(alg: str | None) -> VerifyPolicy | None:
    """A policy whose allow-list is the group's algorithm; None when no policy may allow it (HMAC, none)."""
    if alg is None:
        return None
    try:
        return VerifyPolicy.access_token(ISSUER, ISSUER, algorithms=(alg,))
    except ConfigurationError:
        assert alg.startswith("HS") or alg == "none", alg
        return None


def test_the_wycheproof_jws_file_is_the_one_described() -> None:
    data = load(WYCHEPROOF / "json_web_signature_test.json")
    results = Counter(case["result"] for group in data["testGroups"] for case in group["tests"])
    assert (data["numberOfTests"], results["valid"], results["invalid"]) == (401, 46, 355)
    index = load(ROOT / "wycheproof-jws-index.json")
    assert len(index["tests"]) == 401


@pytest.mark.parametrize(("group_index", "case"), jws_cases())
def test_wycheproof_jws_case(group_index: int, case: dict[str, Any]) -> None:
    group = load(WYCHEPROOF / "json_web_signature_test.json")["testGroups"][group_index]
    token: str = case["jws"]
    jwk, alg = group_key(group_index, group)
    keys, import_refusal = lookup_for(jwk)
    policy = policy_for(alg)
    accept = case["result"] == "valid" and policy is not None and import_refusal is None

    if accept:
        verified = verify_jws(token, keys, policy)  # type: ignore[arg-type]  # accept implies a policy
        assert verified.jws.alg == alg
        assert verified.key.kid == jwk["kid"]
    else:
        for each in (policy, VerifyPolicy.access_token(ISSUER, ISSUER)):
            if each is None:
                continue
            with pytest.raises(InvalidToken) as caught:
                verify_jws(token, keys, each)
            assert (caught.value.code, caught.value.status) == ("invalid_token", 401)
            assert token not in str(caught.value) or not token

    # the default allow-list refuses every other algorithm, whatever the case says
    if alg not in DEFAULT_ALGORITHMS:
        with pytest.raises(InvalidToken):
            verify_jws(token, keys, VerifyPolicy.access_token(ISSUER, ISSUER))


def test_every_refused_valid_wycheproof_case_is_an_hmac_one() -> None:
    """The only ``valid`` cases we refuse are those of HMAC groups (shared secrets are never accepted)."""
    refused: list[tuple[int, str]] = []
    for index, group in enumerate(load(WYCHEPROOF / "json_web_signature_test.json")["testGroups"]):
        jwk, alg = group_key(index, group)
        keys, _ = lookup_for(jwk)
        policy = policy_for(alg)
        for case in group["tests"]:
            if case["result"] != "valid":
                continue
            try:
                verify_jws(case["jws"], keys, policy or VerifyPolicy.access_token(ISSUER, ISSUER))
            except InvalidToken:
                refused.append((case["tcId"], str(alg)))
    assert refused
    assert {alg for _, alg in refused} == {"HS256"}
    assert len(refused) == 10


@pytest.mark.parametrize("group_comment", ["rsa_encryption", "ec_key_for_encryption"])
def test_wycheproof_encryption_keys_are_refused_for_signatures(group_comment: str) -> None:
    groups = [
        g for g in load(WYCHEPROOF / "json_web_signature_test.json")["testGroups"] if g["comment"] == group_comment
    ]
    assert len(groups) == 2
    for group in groups:
        with pytest.raises(InvalidKey) as caught:
            jose.PublicKey.from_jwk(group["public"], alg="RS256" if group["public"]["kty"] == "RSA" else None)
        assert "use" in caught.value.message or "key_ops" in caught.value.message


@pytest.mark.parametrize("group_index", sorted(ALG_ERRATA))
def test_the_uncorrected_rfc7520_keys_are_refused(group_index: int) -> None:
    group = load(WYCHEPROOF / "json_web_signature_test.json")["testGroups"][group_index]
    wrong, _ = ALG_ERRATA[group_index]
    assert group["public"]["alg"] == wrong
    if wrong == "ES521":  # not an algorithm: the key cannot be imported
        with pytest.raises(InvalidKey, match="not supported"):
            jose.PublicKey.from_jwk(group["public"])
        return
    # a real algorithm, but not the token's: the key and the token disagree, so the token is refused
    keys = KeySet([jose.PublicKey.from_jwk(group["public"])])
    policy = VerifyPolicy.access_token(ISSUER, ISSUER, algorithms=("PS256", "PS384"))
    for case in group["tests"]:
        with pytest.raises(InvalidToken, match="not the key's algorithm"):
            verify_jws(case["jws"], keys, policy)


def test_wycheproof_base64_cases_through_the_parser() -> None:
    """Strict base64url (RFC 7515 §2), whatever the MAC: valid encodings parse, broken ones never do."""
    group = next(g for g in load(WYCHEPROOF / "json_web_signature_test.json")["testGroups"] if g["comment"] == "base64")
    secret = base64.urlsafe_b64decode(group["private"]["k"] + "=")
    tokens = {case["tcId"]: case["jws"] for case in group["tests"]}
    assert all(tokens[tc_id] == tokens[357] for tc_id in SAME_AS_VALID_357)
    for case in group["tests"]:
        token, tc_id = case["jws"], case["tcId"]
        if (case["result"] == "valid" and tc_id not in STRICTER_BASE64) or tc_id in SAME_AS_VALID_357:
            jws = jose.parse_compact(token)
            mac = hmac.new(secret, jws.signing_input, hashlib.sha256).digest()
            assert hmac.compare_digest(mac, jws.signature), tc_id
        else:
            with pytest.raises(JoseError):
                jose.parse_compact(token)


# -- raw primitives -----------------------------------------------------------------------------------------


def primitive_cases(name: str) -> list[Any]:
    """Each raw case with its group's key: the JWK when the file gives one, else the PEM."""
    return [
        pytest.param(
            group.get("publicKeyJwk") or group["publicKeyPem"], case, id=f"{case['tcId']}-{'-'.join(case['flags'])}"
        )
        for group in load(WYCHEPROOF / name)["testGroups"]
        for case in group["tests"]
    ]


def import_raw(source: dict[str, Any] | str) -> jose.PublicKey:
    return jose.PublicKey.from_pem(source) if isinstance(source, str) else jose.PublicKey.from_jwk(source)


@pytest.mark.parametrize(("source", "case"), primitive_cases("ed25519_test.json"))
def test_wycheproof_ed25519(source: dict[str, Any] | str, case: dict[str, Any]) -> None:
    key = import_raw(source)
    assert key.alg == "EdDSA"
    verified = jose.verify_signature(key, "EdDSA", bytes.fromhex(case["msg"]), bytes.fromhex(case["sig"]))
    assert verified is (case["result"] == "valid"), case["comment"]


@pytest.mark.parametrize(("source", "case"), primitive_cases("ecdsa_secp256r1_sha256_p1363_test.json"))
def test_wycheproof_es256_p1363(source: dict[str, Any] | str, case: dict[str, Any]) -> None:
    key = import_raw(source)
    assert key.alg == "ES256"
    verified = jose.verify_signature(key, "ES256", bytes.fromhex(case["msg"]), bytes.fromhex(case["sig"]))
    assert verified is (case["result"] == "valid"), case["comment"]


def test_the_raw_vector_files_are_the_ones_described() -> None:
    for name, valid, invalid in (("ed25519_test.json", 88, 63), ("ecdsa_secp256r1_sha256_p1363_test.json", 173, 89)):
        results = Counter(case["result"] for group in load(WYCHEPROOF / name)["testGroups"] for case in group["tests"])
        assert (results["valid"], results["invalid"], len(results)) == (valid, invalid, 2), name


def test_the_primitive_refuses_another_algorithm_than_the_keys() -> None:
    group = load(WYCHEPROOF / "ed25519_test.json")["testGroups"][0]
    key = jose.PublicKey.from_jwk(group["publicKeyJwk"])
    case = group["tests"][0]
    msg, sig = bytes.fromhex(case["msg"]), bytes.fromhex(case["sig"])
    assert jose.verify_signature(key, "EdDSA", msg, sig)
    assert not jose.verify_signature(key, "Ed25519", msg, sig)
    assert not jose.verify_signature(key, "HS256", msg, sig)


# -- RFC 7520 cookbook and RFC 8037 -------------------------------------------------------------------------


def cookbook(name: str) -> dict[str, Any]:
    data: dict[str, Any] = load(COOKBOOK / name)
    return data


def public_part(jwk: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in jwk.items() if k not in {"d", "p", "q", "dp", "dq", "qi", "k"}}


ASYMMETRIC = [
    pytest.param(entry["file"], entry["alg"], id=entry["file"])
    for entry in load(ROOT / "cookbook-jws-index.json")["jws_vectors"]
    if entry["has_compact"] and entry["key_kty"] in {"OKP", "EC", "RSA"}
]
SYMMETRIC = [
    pytest.param(entry["file"], id=entry["file"])
    for entry in load(ROOT / "cookbook-jws-index.json")["jws_vectors"]
    if entry["key_kty"] == "oct"
]


@pytest.mark.parametrize(("name", "alg"), ASYMMETRIC)
def test_cookbook_asymmetric_examples_verify_only_where_allowed(name: str, alg: str) -> None:
    vector = cookbook(name)
    compact: str = vector["output"]["compact"]
    key = jose.PublicKey.from_jwk(public_part(vector["input"]["key"]), alg=alg, kid="cookbook")
    jws = jose.verify_compact(compact, key, [alg])
    assert jws.payload.decode() == vector["input"]["payload"]
    assert jws.signing_input.decode() == vector["signing"]["sig-input"]
    if alg not in DEFAULT_ALGORITHMS:
        with pytest.raises(JoseError, match="algorithm is not allowed"):
            jose.verify_compact(compact, key, DEFAULT_ALGORITHMS)
    # through the verifier: the registry holds the key under the token's kid, if it has one
    kid = vector["signing"]["protected"].get("kid")
    keys = KeySet([jose.PublicKey.from_jwk(public_part(vector["input"]["key"]), alg=alg, kid=kid or "cookbook")])
    policy = VerifyPolicy.access_token(ISSUER, ISSUER, algorithms=(alg,))
    if kid is None:
        with pytest.raises(InvalidToken, match="no key id"):
            verify_jws(compact, keys, policy)
    else:
        assert verify_jws(compact, keys, policy).key.kid == kid


REPRODUCIBLE = [
    pytest.param(entry["file"], entry["alg"], id=entry["file"])
    for entry in load(ROOT / "cookbook-jws-index.json")["jws_vectors"]
    if entry["reproducible"] and entry["key_kty"] in {"OKP", "RSA"} and entry["has_compact"]
]


def test_the_cookbook_index_is_the_one_described() -> None:
    assert [p.values[1] for p in ASYMMETRIC] == ["EdDSA", "RS256", "PS384", "ES512"]
    assert [p.values[1] for p in REPRODUCIBLE] == ["EdDSA", "RS256"]
    assert len(SYMMETRIC) == 6


@pytest.mark.parametrize(("name", "alg"), REPRODUCIBLE)
def test_cookbook_deterministic_signatures_are_reproduced(name: str, alg: str) -> None:
    """Ed25519 (RFC 8037 A.4) and RSASSA-PKCS1-v1_5 (RFC 7520 §4.1) are deterministic: our signer must produce
    the published token bit for bit."""
    vector = cookbook(name)
    protected = vector["signing"]["protected"]
    key = jose.SigningKey.from_jwk(vector["input"]["key"], alg=alg, kid=protected.get("kid"))
    assert key.alg == alg
    payload = vector["input"]["payload"].encode()
    token = jose.sign_compact(payload, key, typ=None, include_kid="kid" in protected)
    assert token == vector["output"]["compact"]


def test_cookbook_ed25519_thumbprint_and_kid() -> None:
    """RFC 8037 A.3: the thumbprint of the RFC 8037 public key."""
    key = jose.PublicKey.from_jwk(public_part(cookbook("curve25519/jws.json")["input"]["key"]))
    assert key.thumbprint == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    assert key.kid == key.thumbprint  # no kid given: the thumbprint names it


def test_rfc7638_thumbprint_example() -> None:
    """RFC 7638 §3.1: the RSA example key and its thumbprint."""
    jwk = {
        "kty": "RSA",
        "n": (
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWK"
            "RXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMic"
            "AtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3"
            "XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        ),
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert jose.thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_negatives_built_from_the_rfc8037_vector() -> None:
    """The README's gap: bad EdDSA tokens made from the known-good one, all refused by the verifier."""
    vector = cookbook("curve25519/jws.json")
    signer = jose.SigningKey.from_jwk(vector["input"]["key"], kid="ed-cookbook")
    keys = KeySet([signer.public_key])
    policy = VerifyPolicy(issuer=ISSUER, audience=ISSUER, typ=None)
    good = jose.sign_compact(vector["input"]["payload"].encode(), signer, typ=None)
    assert verify_jws(good, keys, policy).key is keys.find("ed-cookbook")
    header, payload, signature = good.split(".")
    raw_x = base64.urlsafe_b64decode(vector["input"]["key"]["x"] + "=")

    def hs256(secret: bytes) -> str:
        head = b64(json.dumps({"alg": "HS256", "kid": "ed-cookbook"}).encode())
        return f"{head}.{payload}.{b64(hmac.new(secret, f'{head}.{payload}'.encode(), hashlib.sha256).digest())}"

    flipped = bytearray(base64.urlsafe_b64decode(signature + "=="))
    flipped[-1] ^= 0x01
    none_header = b64(json.dumps({"alg": "none", "kid": "ed-cookbook"}).encode())
    attacks = {
        "flipped signature bit": (f"{header}.{payload}.{b64(bytes(flipped))}", "signature does not verify"),
        "alg none": (f"{none_header}.{payload}.", "not signed"),
        "alg none, signature kept": (f"{none_header}.{payload}.{signature}", "algorithm is not allowed"),
        "HS256 keyed with x": (hs256(raw_x), "algorithm is not allowed"),
        "HS256 keyed with the JWK": (
            hs256(json.dumps(signer.public_key.to_jwk()).encode()),
            "algorithm is not allowed",
        ),
        "signature of another payload": (f"{header}.{b64(b'other')}.{signature}", "signature does not verify"),
    }
    for name, (token, description) in attacks.items():
        with pytest.raises(InvalidToken) as caught:
            verify_jws(token, keys, policy)
        assert description in caught.value.message, name


@pytest.mark.parametrize("name", SYMMETRIC)
def test_cookbook_hmac_examples_are_refused(name: str) -> None:
    vector = cookbook(name)
    with pytest.raises(InvalidKey, match="symmetric"):
        jose.PublicKey.from_jwk(vector["input"]["key"])
    compact = vector["output"].get("compact")
    if compact is None:
        return
    with pytest.raises(InvalidToken):
        verify_jws(compact, KeySet([]), VerifyPolicy.access_token(ISSUER, ISSUER))


def test_cookbook_detached_content_is_never_reattached() -> None:
    """RFC 7515 Appendix F: we take an empty payload part as an empty payload; detached content is not supplied."""
    vector = cookbook("jws/4_5.signature_with_detached_content.json")
    jws = jose.parse_compact(vector["output"]["compact"])
    assert jws.payload == b""
    assert jws.signing_input.decode() != vector["signing"]["sig-input"]


def test_rfc7797_unencoded_payloads_are_refused() -> None:
    compact = cookbook("rfc7797/hmac-sha2_b64_false.json")["output"]["compact"]
    with pytest.raises(JoseError, match="crit"):
        jose.parse_compact(compact)
    json_only = cookbook("rfc7797/4.2.hmac-sha2_b64_false.json")["output"]["json_flat"]
    as_compact = f"{json_only['protected']}.{b64(json_only['payload'].encode())}.{json_only['signature']}"
    with pytest.raises(JoseError, match="b64"):
        jose.parse_compact(as_compact)


def test_json_serializations_are_refused() -> None:
    for name in ("jws/4_8.multiple_signatures.json", "curve25519/jws.json"):
        output = cookbook(name)["output"]
        for form in ("json", "json_flat"):
            if form in output:
                with pytest.raises(JoseError):
                    jose.parse_compact(json.dumps(output[form]))


# -- key import ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("jwk", "options", "message"),
    [
        ({"kty": "oct", "k": "c2VjcmV0"}, {}, "private or symmetric"),
        ({"kty": "oct", "kid": "x"}, {}, "symmetric (oct) keys are not accepted"),
        ({"kty": "OKP", "crv": "X25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}, {}, "curve"),
        ({"kty": "EC", "crv": "secp256k1", "x": "AA", "y": "AA"}, {}, "curve"),
        ({"kty": "RSA", "n": "AQAB", "e": "AQAB"}, {}, "explicit alg"),
        ({"kty": "RSA", "n": "AQAB", "e": "AQAB"}, {"alg": "RS256"}, "2048 bits"),
        ({"kty": "RSA", "n": "not base64!", "e": "AQAB"}, {"alg": "RS256"}, "2048 bits"),
        ({"kty": "OKP", "crv": "Ed25519", "x": "AA"}, {}, "malformed"),
        ({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}, {}, "malformed"),
        ({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}, {"alg": "ES256"}, "fit"),
        (
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "alg": "HS256"},
            {},
            "not supported",
        ),
        (
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "alg": "EdDSA"},
            {"alg": "ES256"},
            "differs",
        ),
        ({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "use": "enc"}, {}, "use"),
        (
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "key_ops": ["sign"]},
            {},
            "key_ops",
        ),
        ({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}, {"kid": ""}, "kid"),
        ({"crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}, {}, "kty"),
    ],
)
def test_unusable_public_keys_are_refused(jwk: dict[str, Any], options: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidKey) as caught:
        jose.PublicKey.from_jwk(jwk, **options)
    assert message in caught.value.message
    assert caught.value.code == "invalid_key"


def test_private_keys_are_refused_where_public_ones_are_expected() -> None:
    private = cookbook("curve25519/jws.json")["input"]["key"]
    with pytest.raises(InvalidKey, match="private"):
        jose.PublicKey.from_jwk(private)
    pem = jose.SigningKey.from_jwk(private).private_pem()
    with pytest.raises(InvalidKey, match="PEM public key"):
        jose.PublicKey.from_pem(pem)


def test_weak_rsa_keys_are_refused() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()  # noqa: S505  the point
    pem = weak.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(InvalidKey, match="2048 bits"):
        jose.PublicKey.from_pem(pem, alg="RS256")


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_signing_keys_round_trip(alg: str) -> None:
    key = jose.SigningKey.generate(alg, kid="k-1")
    assert (key.alg, key.kid, key.public_key.alg, key.public_key.kid) == (alg, "k-1", alg, "k-1")
    again = jose.SigningKey.from_pem(key.private_pem(b"pass phrase"), alg=alg, kid="k-1", password=b"pass phrase")
    assert again.public_key.thumbprint == key.public_key.thumbprint
    jwk = key.public_key.to_jwk()
    assert "d" not in jwk
    assert (jwk["kid"], jwk["alg"], jwk["use"]) == ("k-1", alg, "sig")
    assert jose.PublicKey.from_jwk(jwk).thumbprint == jose.thumbprint(jwk) == key.public_key.thumbprint
    native = serialization.load_pem_private_key(key.private_pem(), None)
    public_pem = jose.PublicKey.from_pem(
        native.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert public_pem.thumbprint == key.public_key.thumbprint
    token = jose.sign_jwt({"sub": "x"}, key, typ="at+jwt")
    assert jose.verify_compact(token, key.public_key, [alg]).header == {"alg": alg, "kid": "k-1", "typ": "at+jwt"}
    assert "k-1" in repr(key) and "k-1" in repr(key.public_key)


def test_only_eddsa_and_es256_keys_are_generated() -> None:
    with pytest.raises(InvalidKey):
        jose.SigningKey.generate("RS256")


def test_a_signing_key_needs_its_private_half() -> None:
    with pytest.raises(InvalidKey, match="'d'"):
        jose.SigningKey.from_jwk(public_part(cookbook("curve25519/jws.json")["input"]["key"]))
    with pytest.raises(InvalidKey, match="PEM private key"):
        jose.SigningKey.from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")


def test_extra_header_members_cannot_replace_alg_kid_or_typ() -> None:
    key = jose.SigningKey.generate()
    with pytest.raises(ValueError, match="cannot set"):
        jose.sign_compact(b"{}", key, typ="dpop+jwt", extra_header={"alg": "none"})
    proof = jose.sign_compact(
        b"{}", key, typ="dpop+jwt", include_kid=False, extra_header={"jwk": key.public_key.to_jwk()}
    )
    assert jose.parse_compact(proof).header["jwk"]["x"] == key.public_key.to_jwk()["x"]


def test_a_jwks_is_capped_and_checked() -> None:
    one = jose.SigningKey.generate(kid="a").public_key.to_jwk()
    two = jose.SigningKey.generate("ES256", kid="b").public_key.to_jwk()
    unknown = {"kty": "AKP", "alg": "ML-DSA-44", "pub": "AAAA", "kid": "pq"}
    assert [k.kid for k in jose.import_jwks({"keys": [one, unknown, two]})] == ["a", "b"]
    odd = [{"kty": []}, {"kty": {"a": 1}}, {"kty": 7}, {"kty": None}, {"x": "no kty"}]  # not a type we know: skipped
    assert [k.kid for k in jose.import_jwks({"keys": [*odd, one]})] == ["a"]
    with pytest.raises(InvalidKey, match="key type"):
        jose.PublicKey.from_jwk({"kty": [], "x": "AAAA"})
    assert [k.kid for k in jose.import_jwks(json.dumps(jose.export_jwks(jose.import_jwks({"keys": [one]}))))] == ["a"]
    cases: list[tuple[Any, dict[str, int], str]] = [
        (json.dumps({"keys": [one] * 3}), {"max_bytes": 100}, "larger than 100 bytes"),
        ({"keys": [one, two]}, {"max_keys": 1}, "more than 1 keys"),
        ({"keys": [one, {**two, "kid": "a"}]}, {}, "share a kid"),
        ({"keys": []}, {}, "non-empty 'keys'"),
        ({"keys": [unknown]}, {}, "no usable key"),
        ({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}, {}, "symmetric"),
        (b"[]", {}, "not a JSON object"),
        (b'{"keys": [{"kty": "OKP", "crv": "Ed25519", "x": NaN}]}', {}, "not valid JSON"),
    ]
    for document, caps, message in cases:
        with pytest.raises((InvalidKey, JoseError)) as caught:
            jose.import_jwks(document, **caps)
        assert message in str(caught.value), message


def test_certificate_thumbprint_is_rfc8705_x5t_s256() -> None:
    der = b"\x30\x82\x01\x0a"
    expected = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    assert jose.certificate_thumbprint(der) == expected
    assert "=" not in expected and len(expected) == 43
