"""Credentials inside text: what they look like, and how they show once masked. Pure.

``mask_text`` replaces every credential it finds in a string, and only the credential, with ``[masked:<kind>]``
(the rest of the string is kept, so a reason or a tool argument still reads): ``"key is remit_adm_..."`` becomes
``"key is [masked:remit_adm]"``. The kind says what was there; nothing of the secret's random part is kept (a
legacy API key keeps its public id: ``remit_apikey_<id>_[masked:remit_apikey]``). What it finds:

* by shape: Remit's own secrets (``remit_adm_``, ``remit_reg_``, ``remit_apikey_``); JWTs (JWS and JWE compact);
  the credential after ``Bearer`` (and after ``Basic`` when it decodes to ``user:password``); PEM private key
  blocks; AWS access key ids; GitHub, GitLab, Slack (tokens and webhook URLs), Stripe, ``sk-`` (OpenAI-style,
  Anthropic), Google API, SendGrid, npm, PyPI and Hugging Face tokens;
* by name: the value of ``name=value`` (a URL's query string, a shell or ``.env`` line) and of a JSON
  ``"name": "value"`` pair when the name says it is a credential (``credential_name``), and the password of a
  URL's user info (``https://user:[masked:password]@host``).

``credential_name`` is the one test of names, used by the audit masker for members too (their value is masked
whole) and by the HTTP access log for query parameters.

Speed: this runs on every string of every audit record, so a clean string must cost little. One regex finds
*anchors*, each a literal character (rare in ordinary text) with a lookbehind, such as ``_`` preceded by
``remit``; a regex whose every alternative starts with a literal is scanned by its first-character set, in C.
Only at an anchor does the rule's own pattern run, from where its credential starts. Clean strings, the usual
case, never leave the anchor scan.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

#: how a masked credential shows: ``[masked:jwt]``; never matched by any rule, so masking twice changes nothing
MARK: Final = "[masked:"

#: member and parameter names whose values are credentials wherever they appear
SECRET_KEYS: Final = re.compile(
    r"(?i)^(.*[_-])?(password|passwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|"
    r"authorization|auth|cookie|session|credential|credentials|client[_-]?secret|bearer|jwt|signature)$"
)
#: query parameters that carry credentials besides those ``SECRET_KEYS`` names (OAuth codes and assertions, API
#: keys and signatures in URLs): only in a URL's query or an assignment, never as member names (``"code": "E42"``)
URL_CREDENTIALS: Final = frozenset(
    {"code", "assertion", "client_assertion", "id_token_hint", "key", "sig", "pwd", "passphrase", "otp"}
)
#: names of HTTP authentication schemes: ``Authorization=Bearer xyz`` masks ``xyz`` too
_SCHEMES: Final = frozenset({"bearer", "basic", "dpop", "token", "negotiate", "digest"})

_KEY_VERDICTS: dict[str, bool] = {}
_KEY_VERDICTS_MAX: Final = 4096


def credential_name(name: str, *, in_url: bool = False) -> bool:
    """Whether a member or parameter called ``name`` holds a credential; ``in_url`` adds ``URL_CREDENTIALS``."""
    verdict = _KEY_VERDICTS.get(name)
    if verdict is None:
        verdict = SECRET_KEYS.match(name) is not None
        if len(_KEY_VERDICTS) < _KEY_VERDICTS_MAX:  # contexts reuse a small vocabulary of names
            _KEY_VERDICTS[name] = verdict
    return verdict or (in_url and name.lower() in URL_CREDENTIALS)


# -- the rules -------------------------------------------------------------------------------------------------

#: (start, end, replacement) of one credential found in a text
Found = tuple[int, int, str]
#: a rule: given the text and where its anchor matched, the credential there (or None)
Find = Callable[[str, int], Found | None]

_B64URL = r"A-Za-z0-9_\-"
_WORD = r"(?<![A-Za-z0-9])"  # not glued to a word before it: ``task-...`` holds no ``sk-`` key


def _mark(kind: str) -> str:
    return f"{MARK}{kind}]"


def _shape(back: int, pattern: str, kind: str | Callable[[re.Match[str]], str | None]) -> Find:
    """A credential that starts ``back`` characters before its anchor and matches ``pattern`` from there. The
    whole match is replaced, or only its group ``s`` when the pattern has one (``Bearer [masked:bearer]``).
    ``kind`` names it, or renders the replacement of the secret (None: not a credential after all)."""
    compiled = re.compile(pattern)
    partial = "s" in compiled.groupindex

    def find(text: str, at: int) -> Found | None:
        start = at - back
        if start < 0:
            return None
        m = compiled.match(text, start)  # a lookbehind in ``pattern`` sees the text before ``start`` too
        if m is None:
            return None
        rendered = _mark(kind) if isinstance(kind, str) else kind(m)
        if rendered is None:
            return None
        if partial:
            return m.start("s"), m.end("s"), rendered
        return m.start(), m.end(), rendered

    return find


def _remit(m: re.Match[str]) -> str:
    if m.group("api_id") is not None:  # a legacy key's id is public (``remit keys list`` shows it): keep it
        return f"remit_apikey_{m.group('api_id')}_{_mark('remit_apikey')}"
    return _mark(f"remit_{m.group('remit') or 'apikey'}")


def _basic(m: re.Match[str]) -> str | None:
    """``Basic`` credentials are ``user:password`` in base64; anything else after the word is prose."""
    try:
        decoded = base64.b64decode(m.group("s"), validate=True)
    except (binascii.Error, ValueError):
        return None
    return _mark("basic") if b":" in decoded else None


def _sk(m: re.Match[str]) -> str:
    return _mark("anthropic" if m.group(0).startswith("sk-ant-") else "api_key")


#: the end of a value in ``name=value``: whitespace, a URL's ``&`` and ``#``, quotes, angle brackets, a backslash
#: (a JSON escape); anything else may be part of a password, so it is masked with it
_VALUE_END: Final = re.compile(r"[\s&#\"'<>\\]")
_NAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def _value_end(text: str, start: int) -> int:
    m = _VALUE_END.search(text, start)
    return len(text) if m is None else m.start()


def _assignment(text: str, at: int) -> Found | None:
    """``name=value`` with a credential's name: the value (the word after an auth scheme too)."""
    start = at
    while start > 0 and at - start < 64 and text[start - 1] in _NAME_CHARS:
        start -= 1
    name = text[start:at]
    if not name:
        return None
    in_url = start > 0 and text[start - 1] in "?&;"
    if not credential_name(name, in_url=in_url):
        return None
    value = at + 1
    end = _value_end(text, value)
    if end == value or text.startswith((MARK, "***"), value):
        return None
    if text[value:end].lower() in _SCHEMES:  # Authorization=Bearer xyz: the credential is the next word
        after = end
        while after < len(text) and text[after] in " \t":
            after += 1
        if after > end and after < len(text):
            end = _value_end(text, after)
    return value, end, _mark("secret")


_USERINFO: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:]*:(?P<s>[^\s/?#@]+)@")


def _userinfo(text: str, at: int) -> Found | None:
    """``scheme://user:password@host``: the password."""
    scheme = text.rfind("://", max(0, at - 512), at)
    if scheme <= 0:
        return None
    start = scheme
    while start > 0 and (text[start - 1].isascii() and (text[start - 1].isalnum() or text[start - 1] in "+.-")):
        start -= 1
    m = _USERINFO.match(text, start)
    if m is None or m.end() != at + 1 or m.group("s").startswith(MARK):
        return None
    return m.start("s"), m.end("s"), _mark("password")


_JSON_VALUE: Final = re.compile(r'\s*:\s*"(?P<s>(?:[^"\\]|\\.)*)"')


def _json_pair(text: str, at: int) -> Found | None:
    """``"name": "value"`` (JSON inside a string) with a credential's name: the value."""
    opening = text.rfind('"', max(0, at - 65), at)
    if opening < 0 or not credential_name(text[opening + 1 : at]):
        return None
    m = _JSON_VALUE.match(text, at + 1)
    if m is None or not m.group("s") or m.group("s").startswith((MARK, "***")):
        return None
    return m.start("s"), m.end("s"), _mark("secret")


_PEM_LINE = r"-{4,5} ?%s (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)? ?-{4,5}"


@dataclass(frozen=True, slots=True)
class _Rule:
    """Where ``find`` runs: at each match of ``first`` (one literal character) followed by ``rest`` (a regex,
    most often a lookbehind for the prefix that ends with ``first``)."""

    first: str
    rest: str
    find: Find


def _scheme(word: str, credential: str, kind: str | Callable[[re.Match[str]], str | None]) -> tuple[_Rule, ...]:
    """An HTTP authentication scheme's credential after its name as people write it: ``Bearer``, ``bearer``,
    ``BEARER``."""
    return tuple(
        _Rule(spelled[0], spelled[1:], _shape(0, rf"{spelled}\s+{credential}", kind))
        for spelled in (word, word.lower(), word.upper())
    )


_RULES: Final = (
    # Remit's own: remit_adm_<43>, remit_reg_<43>, remit_apikey_<16 hex>_<43>
    _Rule(
        "_",
        "(?<=remit_)",
        _shape(
            5,
            r"remit_(?:(?P<remit>adm|reg)_[A-Za-z0-9_-]{16,}"
            r"|apikey_(?:(?P<api_id>[0-9a-f]{16})_[A-Za-z0-9_-]+|(?![0-9a-f]{16}_)[A-Za-z0-9_-]{17,}))",
            _remit,
        ),
    ),
    # JWS (three parts) and JWE (five): a base64url JSON header, ``{"`` → ``eyJ``
    _Rule(
        "J",
        "(?<=eyJ)",
        _shape(2, rf"eyJ[={_B64URL}]{{6,}}\.[={_B64URL}]{{2,}}\.[={_B64URL}]*(?:\.[={_B64URL}]*){{0,2}}", "jwt"),
    ),
    *_scheme("Bearer", r"(?P<s>[A-Za-z0-9._~+/-]{8,}=*)", "bearer"),
    *_scheme("Basic", r"(?P<s>[A-Za-z0-9+/]{4,}={0,2})(?![A-Za-z0-9+/=])", _basic),
    # PEM and OpenSSH private keys, to their END line (or the end of the text: a truncated key is still one)
    _Rule("-", "---", _shape(0, rf"{_PEM_LINE % 'BEGIN'}(?s:.*?)(?:{_PEM_LINE % 'END'}|\Z)", "private_key")),
    _Rule(
        "A",
        "(?=KIA|SIA|BIA|CCA|3T)",
        _shape(0, rf"{_WORD}(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{{16}}(?![A-Za-z0-9])", "aws_access_key"),
    ),
    _Rule("A", "(?=Iza)", _shape(0, rf"{_WORD}AIza[{_B64URL}]{{35}}(?![{_B64URL}])", "google_api_key")),
    _Rule("_", "(?<=gh[pousr]_)", _shape(3, rf"{_WORD}gh[pousr]_[A-Za-z0-9_]{{30,}}", "github")),
    _Rule("_", "(?<=github_)", _shape(6, rf"{_WORD}github_pat_[A-Za-z0-9_]{{22,}}", "github")),
    _Rule("-", "(?<=gl(?:pat|ptt)-)", _shape(5, rf"{_WORD}gl(?:pat|ptt)-[{_B64URL}]{{20,}}", "gitlab")),
    _Rule("-", "(?<=gl[dr]t-)", _shape(4, rf"{_WORD}gl[dr]t-[{_B64URL}]{{20,}}", "gitlab")),
    _Rule("-", "(?<=xox[abposrep]-)", _shape(4, rf"{_WORD}xox[abposrep]-[A-Za-z0-9-]{{10,}}", "slack")),
    _Rule(
        ".",
        r"(?<=hooks\.)slack\.com/",
        _shape(5, r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<s>[A-Za-z0-9_/-]{8,})", "slack_webhook"),
    ),
    _Rule("_", "(?<=[rs]k_)(?:live|test)_", _shape(2, rf"{_WORD}[rs]k_(?:live|test)_[A-Za-z0-9]{{16,}}", "stripe")),
    _Rule("_", "(?<=whsec_)", _shape(5, rf"{_WORD}whsec_[A-Za-z0-9+/=]{{24,}}", "stripe")),
    _Rule("-", "(?<=sk-)", _shape(2, rf"(?<![{_B64URL}])sk-[{_B64URL}]{{20,}}", _sk)),
    _Rule(".", r"(?<=SG\.)", _shape(2, rf"{_WORD}SG\.[{_B64URL}]{{16,}}\.[{_B64URL}]{{16,}}", "sendgrid")),
    _Rule("_", "(?<=npm_)", _shape(3, rf"{_WORD}npm_[A-Za-z0-9]{{36}}", "npm")),
    _Rule("-", "(?<=pypi-)AgE", _shape(4, rf"{_WORD}pypi-AgE[{_B64URL}]{{50,}}", "pypi")),
    _Rule("_", "(?<=hf_)", _shape(2, rf"{_WORD}hf_[A-Za-z0-9]{{30,}}", "huggingface")),
    # by name
    _Rule("=", "", _assignment),
    _Rule("@", "", _userinfo),
    _Rule('"', r'(?=\s*:\s*")', _json_pair),
)


def _anchors(rules: tuple[_Rule, ...]) -> re.Pattern[str]:
    """One regex of every rule's anchor, grouped by first character (each alternative then starts with a literal,
    and each character is tested once), each closed by an empty group naming its rule (``lastgroup``)."""
    by_first: dict[str, list[str]] = {}
    for i, rule in enumerate(rules):
        by_first.setdefault(rule.first, []).append(f"{rule.rest}(?P<r{i}>)")
    return re.compile("|".join(f"{re.escape(first)}(?:{'|'.join(rests)})" for first, rests in by_first.items()))


_ANCHORS: Final = _anchors(_RULES)
_FINDERS: Final = {f"r{i}": rule.find for i, rule in enumerate(_RULES)}


def mask_text(text: str) -> str:
    """``text`` with every credential in it replaced by ``[masked:<kind>]``; ``text`` itself if it holds none."""
    m = _ANCHORS.search(text)
    if m is None:
        return text
    parts: list[str] = []
    done = 0  #: text[:done] is in parts
    while m is not None:
        found = _FINDERS[m.lastgroup or ""](text, m.start())
        if found is not None and found[0] >= done:
            start, end, replacement = found
            parts += (text[done:start], replacement)
            done = end
            m = _ANCHORS.search(text, max(end, m.start() + 1))
        else:
            m = _ANCHORS.search(text, m.start() + 1)
    if not parts:
        return text
    parts.append(text[done:])
    return "".join(parts)
