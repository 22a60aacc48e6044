"""Signing an access token (``sign_access_token``): the compact JSON and base64url the token endpoint writes by hand
are exactly the standard ones, and the token verifies."""

from __future__ import annotations

import base64
import json

from remit.clock import FrozenClock
from remit.tokens import endpoint, jose
from remit.tokens.keys import new_key
from remit.tokens.verify import KeySet, VerifyPolicy, verify_jwt


def test_compact_json_and_base64url_match_the_standard_library() -> None:
    for value in ({"a": "é\u2028", "b": [1, 2.5, None, True], "c": 'x"y\\', "n": {"k": -1}}, {}, {"cnf": {"jkt": "x"}}):
        assert endpoint._json(value) == json.dumps(value, separators=(",", ":")).encode()
    for size in range(70):
        data = bytes(range(size))
        assert endpoint._b64(data) == base64.urlsafe_b64encode(data).rstrip(b"=")


def test_a_signed_token_verifies_and_its_header_is_built_once_per_key(clock: FrozenClock) -> None:
    key = new_key("EdDSA", clock.now())
    now = int(clock.now().timestamp())
    tokens = [
        endpoint.sign_access_token(
            key,
            issuer="https://remit.example",
            agent="bot",
            audience="https://api.example",
            scope="read:doc-1",
            iat=now,
            lifetime=300,
            jti=f"at_{n}",
            cnf={"jkt": "thumb"} if n else None,
        )
        for n in range(2)
    ]
    assert tokens[0].split(".")[0] == tokens[1].split(".")[0]
    keys = KeySet([jose.PublicKey.from_jwk(key.public.jwk)])
    policy = VerifyPolicy.access_token("https://remit.example", "https://api.example")
    plain = verify_jwt(tokens[0], keys, policy, clock.now())
    assert dict(plain.header) == {"alg": "EdDSA", "kid": key.kid, "typ": "at+jwt"}
    assert plain.claims["exp"] - plain.claims["iat"] == 300 and "cnf" not in plain.claims
    assert verify_jwt(tokens[1], keys, policy, clock.now(), binding=None).cnf_jkt == "thumb"
