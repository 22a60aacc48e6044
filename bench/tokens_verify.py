"""Token verification: Remit's verifier beside a raw ``cryptography`` Ed25519 check of the same bytes, in one run.

    .venv/bin/python bench/tokens_verify.py            # ~10 s
    .venv/bin/python bench/tokens_verify.py --quick    # ~4 s

It signs one RFC 9068 access token (EdDSA, ``typ`` ``at+jwt``, a certificate binding) and measures, interleaved
round by round so that noise on a shared machine hits all alike:

1. raw: ``Ed25519PublicKey.verify`` on the token's signing input and signature, already decoded (the floor);
2. the JWS step alone (``verify_jws``: parse, header checks, key lookup, signature);
3. a first verification (``verify_jwt``: all of the above, then claims, revocation and binding);
4. a cache hit (``VerifiedCache.verify``: SHA-256 of the token, then expiry, revocation and binding re-checked);
5. for information, the Python work of a first verification with the signature check taken out.

Each figure is the median over rounds of the mean over a batch of calls. It prints one comparison per line
(``bench/compare.py``'s shape) and the targets: a cache hit at most a quarter of a ~40 µs decision (10 µs).
"""

from __future__ import annotations

import argparse
import base64
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import Comparison, report

from remit.clock import SystemClock
from remit.tokens import jose
from remit.tokens.verify import Binding, KeySet, VerifiedCache, VerifyPolicy, verify_jws, verify_jwt

ISSUER = "https://remit.example"
AUDIENCE = "https://tickets.example"
CACHE_HIT_TARGET_US = 10.0


def measure(variants: dict[str, Callable[[], object]], rounds: int, batch: int) -> dict[str, float]:
    """Median (over rounds) of the mean µs per call (over a batch), variants interleaved round by round."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    gc.disable()
    try:
        for _ in range(rounds):
            for name, call in variants.items():
                start = time.perf_counter()
                for _ in range(batch):
                    call()
                samples[name].append((time.perf_counter() - start) / batch * 1e6)
    finally:
        gc.enable()
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    rounds, batch = (15, 200) if args.quick else (41, 400)

    clock = SystemClock()
    key = jose.SigningKey.generate("EdDSA")
    keys = KeySet([key.public_key])
    policy = VerifyPolicy.access_token(ISSUER, AUDIENCE)
    now = int(clock.now().timestamp())
    binding = Binding(certificate_thumbprint=jose.certificate_thumbprint(b"agent certificate"))
    claims = {
        "iss": ISSUER,
        "sub": "spiffe://acme.example/agent/research-bot",
        "aud": AUDIENCE,
        "client_id": "research-bot",
        "scope": "tickets:read tickets:comment",
        "iat": now,
        "exp": now + 3600,
        "jti": "0f9c7c1e-2b7a-4f43-9d4e-3f6c1f0b9a11",
        "cnf": {"x5t#S256": binding.certificate_thumbprint},
    }
    token = jose.sign_jwt(claims, key, typ="at+jwt")
    revoked: set[str] = set()

    parsed = jose.parse_compact(token)
    raw_key = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(key.public_key.to_jwk()["x"] + "="))
    cache = VerifiedCache(keys, policy, clock, is_revoked=revoked.__contains__)
    cache.verify(token, binding)

    variants: dict[str, Callable[[], object]] = {
        "raw": lambda: raw_key.verify(parsed.signature, parsed.signing_input),
        "jws": lambda: verify_jws(token, keys, policy),
        "first": lambda: verify_jwt(token, keys, policy, clock.now(), is_revoked=revoked.__contains__, binding=binding),
        "hit": lambda: cache.verify(token, binding),
    }
    medians = measure(variants, rounds, batch)

    # the Python work alone: the same first verification against a key whose signature check always passes
    class _Free:
        def verify(self, _msg: bytes, _sig: bytes, _key: object) -> bool:
            return True

    real = jose._ALG_MODELS["EdDSA"]
    jose._ALG_MODELS["EdDSA"] = _Free()  # type: ignore[assignment]
    try:
        python_work = measure(
            {
                "python": lambda: verify_jwt(
                    token, keys, policy, clock.now(), is_revoked=revoked.__contains__, binding=binding
                )
            },
            rounds,
            batch * 5,
        )["python"]
    finally:
        jose._ALG_MODELS["EdDSA"] = real

    raw = medians["raw"]
    print(f"token {len(token)} bytes; {rounds} rounds x {batch} calls; medians of per-call means")
    report(
        Comparison("EdDSA JWS step (verify_jws)", medians["jws"], raw, "raw cryptography Ed25519", "µs"),
        Comparison("first verification (verify_jwt)", medians["first"], raw, "raw cryptography Ed25519", "µs"),
        Comparison("cache hit (VerifiedCache)", medians["hit"], raw, "raw cryptography Ed25519", "µs"),
    )
    print(f"python work of a first verification, signature check removed: {python_work:.1f} µs")
    verdict = "met" if medians["hit"] <= CACHE_HIT_TARGET_US else "NOT met"
    print(f"target: cache hit <= {CACHE_HIT_TARGET_US:.0f} µs (a quarter of a ~40 µs decision): {verdict}")


if __name__ == "__main__":
    main()
