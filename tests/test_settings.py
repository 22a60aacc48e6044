"""``load_settings``: defaults, ``REMIT_*`` environment, ``remit.toml``, and the refusals."""

from __future__ import annotations

import os
from pathlib import Path

import pydantic
import pytest

from remit.errors import ConfigurationError
from remit.settings import ApiSettings, Settings, load_settings

PG_URL = "postgresql+psycopg://remit@db.internal:5432/remit"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ``REMIT_*`` from the outside, and a working directory without ``.remit``."""
    for name in list(os.environ):
        if name.startswith("REMIT_"):
            monkeypatch.delenv(name)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def write_toml(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "remit.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults(clean_env: Path) -> None:
    s = load_settings()
    assert s.home == Path(".remit")
    assert s.env == "dev"
    assert s.database_url is None
    assert s.resolved_database_url == f"sqlite:///{clean_env / '.remit' / 'remit.db'}"
    assert s.is_sqlite
    assert s.allow_sqlite_in_production is False
    assert s.trust_domain == "remit.local"
    assert s.review_interval_days == 90
    assert (s.host, s.port) == ("127.0.0.1", 8400)
    assert s.migrate_on_start is True
    assert s.api == ApiSettings(max_body_bytes=1_048_576, max_page_size=200, default_page_size=50)


def test_settings_are_frozen() -> None:
    s = load_settings()
    with pytest.raises(pydantic.ValidationError):
        s.port = 1  # type: ignore[misc]


def test_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REMIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("REMIT_ENV", "production")
    monkeypatch.setenv("REMIT_DATABASE_URL", PG_URL)
    monkeypatch.setenv("REMIT_TRUST_DOMAIN", "corp.example")
    monkeypatch.setenv("REMIT_PORT", "9000")
    monkeypatch.setenv("REMIT_REVIEW_INTERVAL_DAYS", "30")
    monkeypatch.setenv("REMIT_MIGRATE_ON_START", "false")
    s = load_settings()
    assert s.home == tmp_path / "home"
    assert s.env == "production"
    assert s.resolved_database_url == PG_URL
    assert not s.is_sqlite
    assert s.trust_domain == "corp.example"
    assert s.port == 9000
    assert s.review_interval_days == 30
    assert s.migrate_on_start is False


def test_overrides_beat_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMIT_PORT", "9000")
    assert load_settings(port=9100).port == 9100


def test_unrelated_remit_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMIT_TEST_DATABASE_URL", PG_URL)  # the test suite's own variable
    assert load_settings().database_url is None


def test_nested_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMIT_API__MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("REMIT_API__DEFAULT_PAGE_SIZE", "10")
    s = load_settings()
    assert s.api.max_body_bytes == 2048
    assert s.api.default_page_size == 10
    assert s.api.max_page_size == 200


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REMIT_API__MAX_BODY_BYTES", "100"),
        ("REMIT_API__MAX_BODY_BYTES", "lots"),
        ("REMIT_API__MAX_PAGE_SIZE", "0"),
        ("REMIT_PORT", "70000"),
        ("REMIT_ENV", "staging"),
        ("REMIT_REVIEW_INTERVAL_DAYS", "0"),
    ],
    ids=["body-too-small", "body-not-a-number", "page-zero", "port", "env", "review-zero"],
)
def test_bad_environment_values(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert info.value.code == "configuration_error"
    assert "\n" not in info.value.message


def test_default_page_size_cannot_exceed_max(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMIT_API__MAX_PAGE_SIZE", "20")
    monkeypatch.setenv("REMIT_API__DEFAULT_PAGE_SIZE", "50")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert "api.default_page_size must not exceed api.max_page_size" in info.value.message


def test_toml_in_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_toml(home, 'trust_domain = "toml.example"\nport = 8500\n\n[api]\nmax_page_size = 500\n')
    s = load_settings(home=home)
    assert s.home == home
    assert s.trust_domain == "toml.example"
    assert s.port == 8500
    assert s.api.max_page_size == 500
    assert s.api.default_page_size == 50


def test_toml_in_remit_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_toml(home, 'trust_domain = "toml.example"\n')
    monkeypatch.setenv("REMIT_HOME", str(home))
    assert load_settings().trust_domain == "toml.example"


def test_environment_beats_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_toml(home, 'trust_domain = "toml.example"\nport = 8500\n')
    monkeypatch.setenv("REMIT_TRUST_DOMAIN", "env.example")
    s = load_settings(home=home)
    assert s.trust_domain == "env.example"
    assert s.port == 8500


def test_explicit_home_does_not_read_another_homes_toml(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, clean_env: Path
) -> None:
    write_toml(tmp_path / "other", 'trust_domain = "other.example"\n')
    write_toml(clean_env / ".remit", 'trust_domain = "cwd.example"\n')
    monkeypatch.setenv("REMIT_HOME", str(tmp_path / "other"))
    assert load_settings(home=tmp_path / "mine").trust_domain == "remit.local"
    monkeypatch.delenv("REMIT_HOME")
    assert load_settings(home=tmp_path / "mine").trust_domain == "remit.local"
    assert load_settings().trust_domain == "cwd.example"  # no home given: ./.remit


def test_remit_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    write_toml(tmp_path / "home", 'trust_domain = "home.example"\n')
    config = write_toml(tmp_path / "etc", 'trust_domain = "config.example"\n')
    monkeypatch.setenv("REMIT_CONFIG", str(config))
    assert load_settings(home=tmp_path / "home").trust_domain == "config.example"


def test_remit_config_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "remit.toml"
    monkeypatch.setenv("REMIT_CONFIG", str(missing))
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert info.value.code == "configuration_error"
    assert info.value.message == f"REMIT_CONFIG names {missing}, which is not a file"


def test_remit_config_is_a_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REMIT_CONFIG", str(tmp_path))
    with pytest.raises(ConfigurationError):
        load_settings()


@pytest.mark.parametrize(
    "text",
    ["unknown_key = 1\n", 'port = "not a port"\n', "this is not toml\n", "[api]\nsurprise = 1\n"],
    ids=["unknown-key", "bad-type", "syntax", "unknown-nested-key"],
)
def test_bad_toml(tmp_path: Path, text: str) -> None:
    write_toml(tmp_path / "home", text)
    with pytest.raises(ConfigurationError) as info:
        load_settings(home=tmp_path / "home")
    assert info.value.code == "configuration_error"


def test_production_refuses_sqlite(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings(env="production", home=tmp_path)
    assert "env=production with a SQLite store" in info.value.message
    with pytest.raises(ConfigurationError):
        load_settings(env="production", database_url=f"sqlite:///{tmp_path}/x.db")


def test_production_sqlite_when_allowed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REMIT_ENV", "production")
    monkeypatch.setenv("REMIT_ALLOW_SQLITE_IN_PRODUCTION", "true")
    s = load_settings(home=tmp_path)
    assert (s.env, s.is_sqlite, s.allow_sqlite_in_production) == ("production", True, True)


def test_production_with_postgres() -> None:
    s = load_settings(env="production", database_url=PG_URL)
    assert s.env == "production"
    assert not s.is_sqlite


@pytest.mark.parametrize(
    "domain",
    ["Remit.Local", "-remit.local", "remit.local-", "has space.org", "", "spiffe://x", "a/b", "x" * 256, "dom\n"],
    ids=["upper", "leading-dash", "trailing-dash", "space", "empty", "scheme", "slash", "too-long", "newline"],
)
def test_bad_trust_domain(domain: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings(trust_domain=domain)
    assert "trust_domain must be a lowercase DNS name" in info.value.message


@pytest.mark.parametrize("domain", ["example.org", "a", "prod-1.corp.example", "x" * 255])
def test_good_trust_domain(domain: str) -> None:
    assert load_settings(trust_domain=domain).trust_domain == domain


def test_settings_built_directly(tmp_path: Path) -> None:
    s = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path}/remit.db")
    assert s.resolved_database_url == f"sqlite:///{tmp_path}/remit.db"
    assert Settings(home=tmp_path).resolved_database_url == f"sqlite:///{tmp_path.resolve()}/remit.db"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("REMIT_API__MAX_BODY_BYTES", "abc", "api.max_body_bytes (REMIT_API__MAX_BODY_BYTES) must be a whole number"),
        ("REMIT_API__MAX_BODY_BYTES", "5", "api.max_body_bytes (REMIT_API__MAX_BODY_BYTES) must be at least 1024"),
        ("REMIT_ENV", "staging", "env (REMIT_ENV) must be one of: dev, production"),
        ("REMIT_TRUST_DOMAIN", "Bad", "trust_domain must be a lowercase DNS name such as 'example.org'"),
    ],
)
def test_a_bad_setting_is_named_with_its_variable_in_remits_words(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert info.value.message == message  # not pydantic's "Input should be ...", nor its link


def test_a_misspelt_toml_key_is_named_with_the_one_meant(tmp_path: Path) -> None:
    write_toml(tmp_path / "home", "[api]\nmax_bdy_bytes = 4096\n")
    with pytest.raises(ConfigurationError) as info:
        load_settings(home=tmp_path / "home")
    assert info.value.message == "unknown field 'max_bdy_bytes' in api; did you mean 'max_body_bytes'?"
