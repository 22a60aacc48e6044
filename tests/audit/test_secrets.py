"""Credentials inside text are found and masked in place, whatever surrounds them; ordinary text is left alone.

The samples are made here (random bodies in each provider's format), never real credentials; detect-secrets, an
independent scanner, confirms that each sample is what it claims to be, and that nothing it recognises is left
after masking.
"""

from __future__ import annotations

import base64
import json
import secrets
import string
from collections.abc import Iterator

import pytest
from detect_secrets.core.scan import scan_line
from detect_secrets.settings import transient_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remit.admin.tokens import TOKEN_PREFIX as ADMIN_PREFIX
from remit.admin.tokens import mint_secret as new_admin_token
from remit.audit.secrets import credential_name, mask_text
from remit.tokens.legacykeys import KEY_PREFIX as LEGACY_PREFIX
from remit.tokens.registrationtokens import TOKEN_PREFIX as REGISTRATION_PREFIX
from remit.tokens.registrationtokens import mint_secret as new_registration_token

B64URL = string.ascii_letters + string.digits + "-_"
ALNUM = string.ascii_letters + string.digits


def rand(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def b64url_json(value: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def jwt() -> str:
    header = b64url_json({"alg": "EdDSA", "kid": rand(ALNUM, 8)})
    claims = b64url_json({"sub": "bot", "jti": rand(ALNUM, 16)})
    return f"{header}.{claims}.{rand(B64URL, 86)}"


def pem() -> str:
    lines = "\n".join(rand(ALNUM + "+/", 64) for _ in range(4))
    return f"-----BEGIN PRIVATE KEY-----\n{lines}\n-----END PRIVATE KEY-----"


#: (kind, a fresh secret of that kind): what ``[masked:<kind>]`` replaces
SAMPLES: dict[str, tuple[str, str]] = {
    "remit admin token": ("remit_adm", f"remit_adm_{rand(B64URL, 43)}"),
    "remit registration token": ("remit_reg", f"remit_reg_{rand(B64URL, 43)}"),
    "jwt": ("jwt", jwt()),
    "aws access key id": ("aws_access_key", "AKIA" + rand(string.ascii_uppercase + string.digits, 16)),
    "aws temporary key id": ("aws_access_key", "ASIA" + rand(string.ascii_uppercase + string.digits, 16)),
    "github classic": ("github", "ghp_" + rand(ALNUM, 36)),
    "github oauth": ("github", "gho_" + rand(ALNUM, 36)),
    "github fine-grained": ("github", "github_pat_" + rand(ALNUM, 22) + "_" + rand(ALNUM, 59)),
    "gitlab": ("gitlab", "glpat-" + rand(ALNUM, 20)),
    "slack bot": ("slack", f"xoxb-{rand(string.digits, 12)}-{rand(string.digits, 12)}-{rand(ALNUM, 24)}"),
    "stripe secret": ("stripe", "sk_live_" + rand(ALNUM, 24)),
    "stripe restricted": ("stripe", "rk_live_" + rand(ALNUM, 24)),
    "openai project": ("api_key", "sk-proj-" + rand(ALNUM, 20) + "T3BlbkFJ" + rand(ALNUM, 20)),
    "anthropic": ("anthropic", "sk-ant-api03-" + rand(B64URL, 80)),
    "google api key": ("google_api_key", "AIza" + rand(B64URL, 35)),
    "sendgrid": ("sendgrid", f"SG.{rand(B64URL, 22)}.{rand(B64URL, 43)}"),
    "npm": ("npm", "npm_" + rand(ALNUM, 36)),
    "pypi": ("pypi", "pypi-AgEIcHlwaS5vcmc" + rand(B64URL, 70)),
    "hugging face": ("huggingface", "hf_" + rand(ALNUM, 34)),
    "private key": ("private_key", pem()),
}


def body(secret: str) -> str:
    """The part of a sample that must never show: all of it but the public prefix of its format."""
    prefixes = ("remit_adm_", "remit_reg_", "github_pat_", "sk-ant-api03-", "sk-proj-", "-----BEGIN PRIVATE KEY-----")
    for prefix in prefixes:
        if secret.startswith(prefix):
            return secret[len(prefix) :]
    return secret[4:]


def windows(secret: str, size: int = 8) -> Iterator[str]:
    """Every ``size``-character piece of ``secret``'s body: none of them may survive."""
    b = body(secret)
    return (b[i : i + size] for i in range(len(b) - size + 1))


def assert_gone(secret: str, out: str, surrounding: str = "") -> None:
    for piece in windows(secret):
        assert piece not in out or piece in surrounding, f"{piece!r} of the secret is still in {out!r}"


@pytest.mark.parametrize("name", SAMPLES)
def test_a_credential_inside_a_sentence_is_replaced_by_its_kind(name: str) -> None:
    kind, secret = SAMPLES[name]
    text = f"the deploy failed; key is {secret} (rotated since)"
    out = mask_text(text)
    assert out == f"the deploy failed; key is [masked:{kind}] (rotated since)"
    assert mask_text(out) == out  # masking twice changes nothing


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("where", ["alone", "start", "end", "quoted", "in json", "in a url", "after a newline"])
def test_a_credential_is_masked_wherever_it_stands(name: str, where: str) -> None:
    _, secret = SAMPLES[name]
    text = {
        "alone": secret,
        "start": f"{secret} was pasted",
        "end": f"pasted: {secret}",
        "quoted": f"'{secret}'",
        "in json": json.dumps({"note": secret}),
        "in a url": f"https://api.example.org/v1/items/{secret}/x",
        "after a newline": f"line one\n{secret}\nline three",
    }[where]
    assert_gone(secret, mask_text(text))


def test_remits_own_secrets_as_its_code_makes_them() -> None:
    """Every prefix Remit issues secrets with, from the code that issues them (a new prefix must be added here)."""
    admin = new_admin_token()
    registration = new_registration_token()
    legacy_id, legacy_secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    legacy = f"{LEGACY_PREFIX}{legacy_id}_{legacy_secret}"
    assert admin.startswith(ADMIN_PREFIX + "_") and registration.startswith(REGISTRATION_PREFIX + "_")
    out = mask_text(f"admin {admin}, registration {registration}, legacy {legacy}")
    # a legacy key keeps its id, which is public (``remit keys list`` shows it): the secret part goes
    assert out == (
        "admin [masked:remit_adm], registration [masked:remit_reg], "
        f"legacy remit_apikey_{legacy_id}_[masked:remit_apikey]"
    )
    public = f"the key {LEGACY_PREFIX}{legacy_id} was revoked"
    assert mask_text(public) is public


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # credentials by name: a URL's query, an assignment, a JSON pair inside a string
        ("GET /cb?state=x&code=SplxlOBeZQQYbYS6WxSbIA&x=1", "GET /cb?state=x&code=[masked:secret]&x=1"),
        (
            "https://api.example.org/v1?access_token=abc.def-ghi",
            "https://api.example.org/v1?access_token=[masked:secret]",
        ),
        ("curl 'https://x.example/y?key=s3cr3t'", "curl 'https://x.example/y?key=[masked:secret]'"),
        ("export DB_PASSWORD=hunter2; make", "export DB_PASSWORD=[masked:secret] make"),
        ("--client-secret=s3cr3t,more", "--client-secret=[masked:secret]"),
        ("cookie: session=abc123; theme=dark", "cookie: session=[masked:secret] theme=dark"),
        ("Authorization=Bearer abcdefgh123 then", "Authorization=[masked:secret] then"),
        ('{"password": "hunter2", "user": "bob"}', '{"password": "[masked:secret]", "user": "bob"}'),
        ('payload {"client_secret":"x\\"y"} sent', 'payload {"client_secret":"[masked:secret]"} sent'),
        # a URL's user info
        (
            "postgresql://remit:hunter2@db.internal:5432/remit",
            "postgresql://remit:[masked:password]@db.internal:5432/remit",
        ),
        (
            "see https://bob:p%40ss:w0rd@git.example.org/r.git",
            "see https://bob:[masked:password]@git.example.org/r.git",
        ),
        # authentication schemes
        ("Authorization: Bearer 2YotnFZFEjr1zCsicMWpAA", "Authorization: Bearer [masked:bearer]"),
        ("curl -H 'authorization: bearer mF_9.B5f-4.1JqM'", "curl -H 'authorization: bearer [masked:bearer]'"),
        ("Authorization: Basic " + base64.b64encode(b"bob:hunter2").decode(), "Authorization: Basic [masked:basic]"),
        # a Slack webhook URL keeps its host
        (
            "posted to https://hooks.slack.com/services/T0000/B0000/" + "X" * 24,
            "posted to https://hooks.slack.com/services/[masked:slack_webhook]",
        ),
        # a private key cut short is still masked to the end
        ("key:\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrY", "key:\n[masked:private_key]"),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----\nok",
            "[masked:private_key]\nok",
        ),
        # several in one text
        (f"a {SAMPLES['jwt'][1]} b {SAMPLES['npm'][1]} c", "a [masked:jwt] b [masked:npm] c"),
    ],
)
def test_credentials_by_name_scheme_and_url(text: str, masked: str) -> None:
    assert mask_text(text) == masked
    assert mask_text(masked) == masked


@pytest.mark.parametrize(
    "text",
    [
        "",
        "open incidents this week",
        "dec_P8IHC8uVHmuPFjoupMKQSM2",
        "req_ce8349606a06e9ab85a0bcc1",
        "confluence-data-003.list_message_1",
        "spiffe://example.org/agent/support-bot",
        "2026-01-05T13:24:00.123456Z",
        "10.42.8.152",
        "alice@example.org",
        "mailto:alice@example.org",
        "https://api.example.org/v1/items?page=2&limit=50",
        "token_type=Bearer",  # a token's type, not a token
        "key_id=0123456789abcdef",
        "a == b",
        "bearer tokens are short-lived",
        "basic information for the weekly report",
        "Basic plan",
        "task-abcdefghijklmnopqrstuvwxyz0123",  # 'sk-' inside a word
        "desk_live_abcdefghijklmnopqrstuvwx",  # 'sk_live_' inside a word
        "XAKIAIOSFODNN7EXAMPLEX",  # an AWS key id shape glued into a longer word
        "remit_audit_commit_duration_seconds",  # a metric name, not a secret
        "remit_apikey_0123456789abcdef",  # a legacy key's public id
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        # an Ed25519 JWK's public x and an RSA modulus: base64url, no credential's prefix
        "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----",
        "[masked:jwt]",
        "***",
        "ünïcödé \u017fecret \u017fk-live",  # non-ASCII (a long s): nothing folds into a credential's prefix
    ],
)
def test_ordinary_text_is_left_as_it_is(text: str) -> None:
    assert mask_text(text) is text


def test_credential_names() -> None:
    names = ("password", "DB_PASSWORD", "api_key", "apiKey", "x-api-key", "client_secret", "access_token")
    for name in (*names, "Authorization"):
        assert credential_name(name), name
    for name in ("code", "key", "assertion", "client_assertion", "sig"):
        assert not credential_name(name) and credential_name(name, in_url=True), name
    for name in ("token_type", "key_id", "kid", "jti", "subject_jti", "auth_method", "password_hint_shown", "name"):
        assert not credential_name(name, in_url=True), name


# -- properties ------------------------------------------------------------------------------------------------

#: text around a secret: anything printable, then a character that ends a word (a secret glued to a word is a
#: different word, see ``test_ordinary_text_is_left_as_it_is``)
_AROUND = st.text(st.characters(min_codepoint=32, max_codepoint=0x24F), max_size=40)
_SEPARATORS = st.sampled_from([" ", "\n", "\t", ",", ";", "(", ")", "'", '"', "<", ">", "|", "/", ":"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=_AROUND, sep1=_SEPARATORS, name=st.sampled_from(sorted(SAMPLES)), sep2=_SEPARATORS, after=_AROUND)
def test_no_part_of_a_secret_survives_whatever_surrounds_it(
    before: str, sep1: str, name: str, sep2: str, after: str
) -> None:
    _, secret = SAMPLES[name]
    out = mask_text(f"{before}{sep1}{secret}{sep2}{after}")
    assert_gone(secret, out, surrounding=before + after)


@settings(max_examples=500, deadline=None)
@given(st.text(st.characters(min_codepoint=0, max_codepoint=0x2FF), max_size=200))
def test_masking_twice_changes_nothing(text: str) -> None:
    once = mask_text(text)
    assert mask_text(once) == once


# -- an independent scanner ------------------------------------------------------------------------------------

#: detect-secrets' plugins for the formats above (its keyword and entropy plugins guess, and are left out)
_PLUGINS = [
    {"name": name}
    for name in (
        "AWSKeyDetector",
        "BasicAuthDetector",
        "GitHubTokenDetector",
        "GitLabTokenDetector",
        "JwtTokenDetector",
        "NpmDetector",
        "OpenAIDetector",
        "PrivateKeyDetector",
        "PypiTokenDetector",
        "SendGridDetector",
        "SlackDetector",
        "StripeDetector",
    )
]
#: formats detect-secrets (1.5) has no plugin for (checked above only)
_NOT_IN_DETECT_SECRETS = {
    "remit admin token",
    "remit registration token",
    "github fine-grained",
    "anthropic",
    "google api key",
    "hugging face",
}


@pytest.mark.parametrize("name", sorted(set(SAMPLES) - _NOT_IN_DETECT_SECRETS))
def test_what_detect_secrets_finds_is_gone_after_masking(name: str) -> None:
    _, secret = SAMPLES[name]
    line = f"config: {secret.splitlines()[0]} # pasted"  # detect-secrets scans line by line
    if name == "npm":  # detect-secrets knows npm tokens in an .npmrc line only
        line = f"//registry.npmjs.org/:_authToken={secret}"
    with transient_settings({"plugins_used": _PLUGINS}):
        assert list(scan_line(line)), f"detect-secrets does not recognise the {name} sample"
        assert list(scan_line(mask_text(line))) == [], mask_text(line)


def test_what_detect_secrets_finds_in_a_url_is_gone_after_masking() -> None:
    url = "postgresql://remit:hunter2@db.internal/remit"
    with transient_settings({"plugins_used": _PLUGINS}):
        assert list(scan_line(url))
        assert list(scan_line(mask_text(url))) == []
