"""The token benchmark: issuing, verifying and re-checking Remit's access tokens beside their baselines, in one run.

    .venv/bin/python bench/tokens.py            # ~1 minute (or: make bench-tokens)
    .venv/bin/python bench/tokens.py --quick    # ~20 s

On a fresh home (SQLite) with the small estate of ``bench/estate.py`` and its 36 policies, Remit's own signing key
(Ed25519, from the signing key service) and tokens as ``/oauth/token`` issues them, it measures, interleaved round by
round in shuffled order (32 timed calls of each variant per round) so that noise on a shared machine hits every
variant alike:

a. issuing: what ``TokenEndpoint._issue`` does once every check has passed (the active key, the clock, a new
   ``jti``, the RFC 9068 claims, their JSON, the signature: ``sign_access_token``), without the store, the policy
   engine or the audit record, against a raw ``cryptography`` Ed25519 sign of the same signing input.
   Target: baseline / Remit >= 0.75;
b. a first verification: ``verify_jwt`` of a token not seen before (one of 256 distinct ones, through ``OwnKeys``,
   Remit's own key lookup) against a raw ``cryptography`` Ed25519 verify of the same signing input and signature.
   Target: baseline / Remit >= 0.75;
c. a cached re-check: a ``VerifiedCache`` hit (the key generation asked, expiry and ``nbf``, the revocation hook,
   a certificate binding) on a certificate-bound token, against one in-process policy decision
   (``PolicyEngine.evaluate``, as ``bench/pdp.py`` measures it) on the estate's requests.
   Target: Remit / decision <= 0.25. The revocation hook is the estate's ``RevocationSet`` (``Remit.token_verifier(
   ..., revocations="memory")``): revoked ids in memory, re-read when the store's revocations change (checked at most
   every ``policy_refresh_seconds``), a revocation made in the process applied at once.

For information: the JWS step alone (``verify_jws``), a first verification through a fixed ``KeySet``, the Python
work of a first verification with the signature check taken out, and a cache hit whose hook is the shared
revocation store (``RevocationStore.is_revoked``: one SQLite read per call, which a revocation that must apply on
the very next request on every server costs).

Each figure: median and p99 over every timed call (per-call ``perf_counter_ns``). It prints one table and which
targets were met (PASS or MISS); it always exits 0.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import estate as est
from common import Target, percentile
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from rich.console import Console
from rich.table import Table

from remit.container import Remit
from remit.ids import new_id
from remit.settings import load_settings
from remit.tokens import jose
from remit.tokens.endpoint import sign_access_token
from remit.tokens.keys import SigningKey, unb64url
from remit.tokens.ownkeys import OwnKeys
from remit.tokens.verify import Binding, KeySet, VerifiedCache, VerifyPolicy, verify_jws, verify_jwt

AUDIENCE = "https://mcp.example.org/helpdesk"
AGENT = "research-bot"
SCOPE = "call_tool:helpdesk.get_ticket call_tool:helpdesk.list_tickets"
LIFETIME = 3600
FRESH_TOKENS = 256
BATCH = 32  #: calls of one variant in a row, each timed
console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)


@dataclass
class Samples:
    ns: list[int] = field(default_factory=list)

    def median_us(self) -> float:
        return percentile(sorted(self.ns), 0.5) / 1000

    def p99_us(self) -> float:
        return percentile(sorted(self.ns), 0.99) / 1000


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    call: Callable[[int], object]  #: called with the round number
    samples: Samples = field(default_factory=Samples)


def measure(variants: list[Variant], rounds: int, seconds: float, *, batch: int = BATCH, seed: int = 3) -> int:
    """Each round runs every variant for ``batch`` calls, in shuffled order, timing each call; bounded by rounds and
    time. A batch keeps one variant's code and data warm, as a server's steady stream of the same work does."""
    rng = random.Random(seed)
    order = list(variants)
    clock = time.perf_counter_ns
    deadline = time.perf_counter() + seconds
    gc.collect()
    gc.freeze()
    done = 0
    try:
        for i in range(rounds):
            rng.shuffle(order)
            for v in order:
                call, out = v.call, v.samples.ns
                for k in range(i * batch, (i + 1) * batch):
                    t0 = clock()
                    call(k)
                    out.append(clock() - t0)
            done = i + 1
            if time.perf_counter() > deadline:
                break
    finally:
        gc.unfreeze()
    return done


def raw_private(key: SigningKey) -> Ed25519PrivateKey:
    if not isinstance(key.private, Ed25519PrivateKey):
        raise SystemExit("the benchmark needs an Ed25519 (EdDSA) signing key")
    return key.private


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short run (~20 s)")
    args = parser.parse_args(argv)
    rounds, seconds = (150, 10.0) if args.quick else (1_000, 60.0)
    started = time.perf_counter()
    console.print(
        f"[bold]Remit token benchmark[/bold] ({'quick' if args.quick else 'full'} run) · Python "
        f"{sys.version.split()[0]} · {os.cpu_count()} CPUs · load {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory(prefix="remit-bench-") as tmp:
        remit = Remit.from_settings(load_settings(home=Path(tmp)))
        try:
            run(remit, rounds, seconds)
        finally:
            remit.close()
    console.print(f"[dim]{time.perf_counter() - started:.0f} s in all; load average now {os.getloadavg()[0]:.1f}[/dim]")
    return 0


def run(remit: Remit, rounds: int, seconds: float) -> None:
    estate = est.build(remit, est.SIZES["small"])
    remit.policies.apply(est.ADMIN, est.policies(estate, est.BASE_POLICIES), comment="bench: tokens")
    remit.refresher.refresh(force=True)
    requests = [r.engine for r in est.requests(estate, 256)]
    pdp = remit.pdp
    signing_keys, clock = remit.signing_keys, remit.clock
    issuer = remit.token_endpoint.issuer
    key = signing_keys.active()
    private = raw_private(key)
    public: Ed25519PublicKey = private.public_key()
    lookup = OwnKeys(signing_keys)
    fixed = KeySet([jose.PublicKey.from_jwk(key.public.jwk)])
    policy = VerifyPolicy.access_token(issuer, AUDIENCE)

    # (a) issuing, as TokenEndpoint._issue does once every check has passed
    def issue(_: int) -> str:
        active = signing_keys.active()
        now = int(clock.now().timestamp())
        return sign_access_token(
            active,
            issuer=issuer,
            agent=AGENT,
            audience=AUDIENCE,
            scope=SCOPE,
            iat=now,
            lifetime=LIFETIME,
            jti=new_id("at"),
        )

    sample = issue(0)
    sign_input = sample.rsplit(".", 1)[0].encode("ascii")

    # (b) first verifications of distinct tokens, and the same signatures checked raw
    fresh = [issue(i) for i in range(FRESH_TOKENS)]
    decoded = [(t.rsplit(".", 1)[0].encode("ascii"), unb64url(t.rsplit(".", 1)[1])) for t in fresh]

    # (c) a certificate-bound token in the cache, checked against the caller's certificate thumbprint
    binding = Binding(certificate_thumbprint=jose.certificate_thumbprint(b"the agent's client certificate"))
    now = int(clock.now().timestamp())
    bound = sign_access_token(
        key,
        issuer=issuer,
        agent=AGENT,
        audience=AUDIENCE,
        scope=SCOPE,
        iat=now,
        lifetime=LIFETIME,
        jti=new_id("at"),
        cnf={"x5t#S256": str(binding.certificate_thumbprint)},
    )
    cache = VerifiedCache(lookup, policy, clock, is_revoked=remit.revocation_set.is_revoked)
    store_cache = VerifiedCache(lookup, policy, clock, is_revoked=remit.revocations.is_revoked)
    for c in (cache, store_cache):
        c.verify(bound, binding)
    for r in requests:
        pdp.evaluate(r)  # slices built: a decision as the hot path sees it

    variants = {
        "issue": Variant("issue", issue),
        "sign": Variant("sign", lambda _: private.sign(sign_input)),
        "first": Variant("first", lambda i: verify_jwt(fresh[i % FRESH_TOKENS], lookup, policy, clock.now())),
        "verify": Variant(
            "verify", lambda i: public.verify(decoded[i % FRESH_TOKENS][1], decoded[i % FRESH_TOKENS][0])
        ),
        "hit": Variant("hit", lambda _: cache.verify(bound, binding)),
        "decision": Variant("decision", lambda i: pdp.evaluate(requests[i % len(requests)])),
        "jws": Variant("jws", lambda i: verify_jws(fresh[i % FRESH_TOKENS], lookup, policy)),
        "keyset": Variant("keyset", lambda i: verify_jwt(fresh[i % FRESH_TOKENS], fixed, policy, clock.now())),
        "store": Variant("store", lambda _: store_cache.verify(bound, binding)),
    }
    console.print(
        f"Measuring (variants interleaved in shuffled order, {BATCH} timed calls each per round; up to {rounds:,} "
        f"rounds or {seconds:.0f} s) ..."
    )
    done = measure(list(variants.values()), rounds, seconds)
    console.print(f"  {done:,} rounds: {done * BATCH:,} calls of each variant")
    work = measure_python_work(fresh, lookup, policy, clock, done)
    report(variants, work)


def measure_python_work(fresh: list[str], lookup: OwnKeys, policy: VerifyPolicy, clock: Any, rounds: int) -> Samples:
    """A first verification with the signature check taken out: the Python work alone (for information)."""

    class _Free:
        def verify(self, _msg: bytes, _sig: bytes, _key: object) -> bool:
            return True

    real = jose._ALG_MODELS["EdDSA"]
    jose._ALG_MODELS["EdDSA"] = _Free()  # type: ignore[assignment]
    try:
        variant = Variant("python", lambda i: verify_jwt(fresh[i % FRESH_TOKENS], lookup, policy, clock.now()))
        measure([variant], rounds, 10.0)
    finally:
        jose._ALG_MODELS["EdDSA"] = real
    return variant.samples


def report(v: dict[str, Variant], python_work: Samples) -> None:
    def med(name: str) -> float:
        return v[name].samples.median_us()

    targets = [
        (
            "a. issuing an RFC 9068 token (sign_access_token path)",
            "issue",
            "raw Ed25519 sign, same bytes",
            "sign",
            Target("issuing", med("sign") / med("issue"), 0.75, at_least=True),
        ),
        (
            "b. first verification (verify_jwt, OwnKeys)",
            "first",
            "raw Ed25519 verify, same bytes",
            "verify",
            Target("first verification", med("verify") / med("first"), 0.75, at_least=True),
        ),
        (
            "c. cached re-check (VerifiedCache hit, bound token)",
            "hit",
            "one policy decision (PolicyEngine)",
            "decision",
            Target("cached re-check", med("hit") / med("decision"), 0.25),
        ),
    ]
    table = Table(title="Tokens: Remit beside its baselines (µs per call; ratio and target as stated)")
    for col in ("figure", "median", "p99", "baseline", "median", "p99", "ratio", "target", ""):
        table.add_column(col, justify="left" if col in ("figure", "baseline") else "right")
    for name, ours, base_name, base, t in targets:
        a, b = v[ours].samples, v[base].samples
        formula = "baseline / Remit" if t.at_least else "Remit / baseline"
        table.add_row(
            name,
            f"{a.median_us():.1f}",
            f"{a.p99_us():.1f}",
            base_name,
            f"{b.median_us():.1f}",
            f"{b.p99_us():.1f}",
            f"{t.ratio:.2f}" if t.ratio is not None else "-",
            f"{formula} {t.wanted}",
            "[green]PASS[/green]" if t.met else "[red]MISS[/red]",
        )
    console.print(table)
    info = Table(title="For information")
    for col in ("figure", "median µs", "p99 µs", "vs raw verify"):
        info.add_column(col, justify="left" if col == "figure" else "right")
    raw = med("verify")
    for label, samples in (
        ("JWS step alone (verify_jws, OwnKeys)", v["jws"].samples),
        ("first verification through a fixed KeySet", v["keyset"].samples),
        ("first verification, signature check removed (Python work)", python_work),
        ("cache hit, revocation read from the store (SQLite) every call", v["store"].samples),
    ):
        info.add_row(
            label, f"{samples.median_us():.1f}", f"{samples.p99_us():.1f}", f"{samples.median_us() / raw:.2f}x"
        )
    console.print(info)
    met = sum(1 for *_, t in targets if t.met)
    console.print(f"[bold]{met} of {len(targets)} targets met[/bold]")


if __name__ == "__main__":
    sys.exit(main())
