"""The key-encryption key: where it comes from, what file modes it refuses, sealing and opening, never shown."""

from __future__ import annotations

import base64
import os
import threading
from pathlib import Path

import pytest

from remit.errors import ConfigurationError
from remit.settings import load_settings
from remit.tokens.kek import DEFAULT_FILE, KeyDecryptionError, KeyEncryptionKey

RAW = bytes(range(32))
B64URL = base64.urlsafe_b64encode(RAW).rstrip(b"=").decode()
PG_URL = "postgresql+psycopg://remit@db.internal:5432/remit"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("REMIT_"):
            monkeypatch.delenv(name)


def write_key(path: Path, mode: int, text: str = B64URL) -> Path:
    path.write_text(text + "\n", encoding="ascii")
    path.chmod(mode)
    return path


# -- sealing and opening ------------------------------------------------------------------------------------------


def test_seal_and_open() -> None:
    kek = KeyEncryptionKey(RAW, source="test")
    sealed = kek.encrypt(b"private half", context="signing key k1")
    assert sealed.startswith("v1.")
    assert kek.decrypt(sealed, context="signing key k1") == b"private half"
    # a fresh nonce each time: the same secret never seals to the same text
    assert kek.encrypt(b"private half", context="signing key k1") != sealed


@pytest.mark.parametrize(
    ("case", "why"),
    [
        ("other-key", "another key-encryption key"),
        ("other-context", "a ciphertext moved onto another row"),
        ("tampered", "a flipped byte"),
        ("truncated", "cut short"),
    ],
)
def test_open_refuses(case: str, why: str) -> None:
    kek = KeyEncryptionKey(RAW, source="test")
    sealed = kek.encrypt(b"private half", context="signing key k1")
    opener, context = kek, "signing key k1"
    if case == "other-key":
        opener = KeyEncryptionKey.generate()
    elif case == "other-context":
        context = "signing key k2"
    elif case == "tampered":
        body = bytearray(base64.urlsafe_b64decode(sealed[3:] + "=" * (-len(sealed[3:]) % 4)))
        body[-1] ^= 1
        sealed = "v1." + base64.urlsafe_b64encode(bytes(body)).rstrip(b"=").decode()
    else:
        sealed = sealed[:-4]
    with pytest.raises(KeyDecryptionError) as info:
        opener.decrypt(sealed, context=context)
    assert info.value.code == "key_decryption_failed", why
    assert (
        info.value.message
        == f"{context} cannot be decrypted with the key-encryption key {opener.id} from {opener.source}"
    )
    assert info.value.__cause__ is None and info.value.__suppress_context__  # nothing more to show than the message


@pytest.mark.parametrize("sealed", ["", "v2.AAAA", "plain", "v1.not base64!"])
def test_open_refuses_foreign_formats(sealed: str) -> None:
    with pytest.raises(KeyDecryptionError) as info:
        KeyEncryptionKey(RAW, source="test").decrypt(sealed, context="signing key k1")
    assert info.value.message == "signing key k1: the stored value is not one this version of Remit sealed"


def test_key_material_is_never_shown() -> None:
    kek = KeyEncryptionKey(RAW, source="REMIT_KEY_ENCRYPTION_KEY")
    shown = repr(kek) + str(kek)
    assert B64URL not in shown and RAW.hex() not in shown
    assert repr(kek) == f"KeyEncryptionKey(id={kek.id!r}, source='REMIT_KEY_ENCRYPTION_KEY')"
    assert not hasattr(kek, "__dict__")  # no attribute holds the key: vars(), pickling, debuggers find nothing
    assert len(kek.id) == 16 and kek.id != RAW.hex()[:16]
    assert KeyEncryptionKey(RAW, source="elsewhere").id == kek.id  # the id names the key, not where it came from


# -- text -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [B64URL, base64.b64encode(RAW).decode(), base64.urlsafe_b64encode(RAW).decode(), f"  {B64URL}\n"],
    ids=["base64url", "base64-padded", "base64url-padded", "whitespace"],
)
def test_text_forms(text: str) -> None:
    assert KeyEncryptionKey.from_text(text, source="t").id == KeyEncryptionKey(RAW, source="t").id


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (base64.b64encode(RAW[:16]).decode(), "REMIT_KEY_ENCRYPTION_KEY holds 16 bytes, not 32"),
        ("", "REMIT_KEY_ENCRYPTION_KEY is not base64 text"),
        ("not base64 at all!", "REMIT_KEY_ENCRYPTION_KEY is not base64 text"),
    ],
    ids=["short", "empty", "garbage"],
)
def test_bad_text_is_refused_without_echoing_it(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        KeyEncryptionKey.from_text(text, source="REMIT_KEY_ENCRYPTION_KEY")
    assert info.value.code == "configuration_error"
    assert info.value.message == f"{message}; make a key with: openssl rand -base64 32"
    if text.strip():
        assert text.strip() not in info.value.message


# -- files ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o660, 0o666, 0o700 | 0o040])
def test_file_open_to_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = write_key(tmp_path / "kek", mode)
    with pytest.raises(ConfigurationError) as info:
        KeyEncryptionKey.from_file(path)
    assert (info.value.code, info.value.field) == ("configuration_error", "kek_file")
    assert info.value.message == (
        f"the key-encryption key file {path} is open to group or others (mode {mode:04o}); "
        f"restrict it to its owner: chmod 600 {path}"
    )


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_file_for_its_owner_only(tmp_path: Path, mode: int) -> None:
    path = write_key(tmp_path / "kek", mode)
    kek = KeyEncryptionKey.from_file(path)
    assert (kek.id, kek.source) == (KeyEncryptionKey(RAW, source="x").id, str(path))


def test_missing_file_and_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as missing:
        KeyEncryptionKey.from_file(tmp_path / "nope")
    assert missing.value.message == f"the key-encryption key file {tmp_path / 'nope'} does not exist"
    with pytest.raises(ConfigurationError) as directory:
        KeyEncryptionKey.from_file(tmp_path)
    assert directory.value.message == f"the key-encryption key file {tmp_path} is not a regular file"


def test_file_with_a_bad_key_names_the_file(tmp_path: Path) -> None:
    path = write_key(tmp_path / "kek", 0o600, text="c2hvcnQ")
    with pytest.raises(ConfigurationError) as info:
        KeyEncryptionKey.from_file(path)
    assert info.value.message == f"{path} holds 5 bytes, not 32; make a key with: openssl rand -base64 32"


def test_default_file_is_created_for_its_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)  # a permissive umask must not leak into the key's mode
    try:
        kek = KeyEncryptionKey.load_or_create(tmp_path / "keys" / DEFAULT_FILE)
    finally:
        os.umask(old)
    path = tmp_path / "keys" / DEFAULT_FILE
    assert (path.stat().st_mode & 0o777, path.parent.stat().st_mode & 0o777) == (0o600, 0o700)
    assert len(base64.urlsafe_b64decode(path.read_text().strip() + "=")) == 32
    assert KeyEncryptionKey.load_or_create(path).id == kek.id  # made once, then read
    assert [p.name for p in path.parent.iterdir()] == [DEFAULT_FILE]  # no partial file left behind


def test_processes_creating_the_default_file_at_once_share_one_key(tmp_path: Path) -> None:
    path = tmp_path / "keys" / DEFAULT_FILE
    start = threading.Barrier(8)
    ids: list[str] = []

    def create() -> None:
        start.wait()
        ids.append(KeyEncryptionKey.load_or_create(path).id)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 8 and len(set(ids)) == 1
    assert sorted(p.name for p in path.parent.iterdir()) == [DEFAULT_FILE]


def test_an_existing_loose_default_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    path = write_key(tmp_path / "keys" / DEFAULT_FILE, 0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        KeyEncryptionKey.load_or_create(path)


# -- settings -------------------------------------------------------------------------------------------------------


def test_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REMIT_KEY_ENCRYPTION_KEY", B64URL)
    settings = load_settings(home=tmp_path)
    kek = KeyEncryptionKey.from_settings(settings)
    assert kek.id == KeyEncryptionKey(RAW, source="x").id
    assert kek.source == "REMIT_KEY_ENCRYPTION_KEY (key_encryption_key)"
    assert B64URL not in repr(settings)  # a secret setting
    assert not (tmp_path / "keys").exists()  # no default file made


def test_from_the_kek_file_setting(tmp_path: Path) -> None:
    path = write_key(tmp_path / "my-kek", 0o600)
    settings = load_settings(home=tmp_path, tokens={"kek_file": str(path)})
    assert KeyEncryptionKey.from_settings(settings).source == str(path)
    missing = load_settings(home=tmp_path, tokens={"kek_file": str(tmp_path / "gone")})
    with pytest.raises(ConfigurationError, match="does not exist"):
        KeyEncryptionKey.from_settings(missing)  # a named file is never invented
    assert not (tmp_path / "gone").exists()


def test_default_is_a_file_in_home(tmp_path: Path) -> None:
    kek = KeyEncryptionKey.from_settings(load_settings(home=tmp_path))
    assert kek.source == str(tmp_path / "keys" / "kek")


def test_both_sources_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REMIT_KEY_ENCRYPTION_KEY", B64URL)
    path = write_key(tmp_path / "kek", 0o600)
    with pytest.raises(ConfigurationError) as info:
        KeyEncryptionKey.from_settings(load_settings(home=tmp_path, tokens={"kek_file": str(path)}))
    assert info.value.message == "both REMIT_KEY_ENCRYPTION_KEY and tokens.kek_file are set; keep one of them"


def test_production_with_postgres_needs_a_shared_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, env="production", database_url=PG_URL)
    with pytest.raises(ConfigurationError) as info:
        KeyEncryptionKey.from_settings(settings)
    assert info.value.field == "key_encryption_key"
    assert info.value.message.startswith("env=production with PostgreSQL needs a key-encryption key that every")
    assert not (tmp_path / "keys").exists()
    monkeypatch.setenv("REMIT_KEY_ENCRYPTION_KEY", B64URL)
    assert KeyEncryptionKey.from_settings(load_settings(home=tmp_path, env="production", database_url=PG_URL))
