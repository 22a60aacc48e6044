"""``RemoteKeySet``: a provider's published keys, fetched when first needed, refreshed, re-fetched for a new ``kid``
at a bounded rate, kept through an outage for a while and then refused. The fetch is the boundary: here a function
that serves what the test publishes and counts the calls (the HTTP fetch itself is tested in tests/net)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest

from remit.clock import FrozenClock
from remit.net.http import FetchError
from remit.tokens import jose
from remit.tokens.remotejwks import RemoteKeySet

URL = "https://login.example.org/jwks"


class Provider:
    """What the identity provider publishes, and how often it was asked."""

    def __init__(self) -> None:
        self.keys = [jose.SigningKey.generate("ES256", kid="k1")]
        self.calls = 0
        self.down = False
        self.document: Mapping[str, Any] | None = None

    def fetch(self, url: str) -> Mapping[str, Any]:
        assert url == URL
        self.calls += 1
        if self.down:
            raise FetchError("login.example.org did not answer within 5 s")
        return self.document if self.document is not None else jose.export_jwks(k.public_key for k in self.keys)


@pytest.fixture
def provider() -> Provider:
    return Provider()


@pytest.fixture
def keys(provider: Provider, clock: FrozenClock) -> RemoteKeySet:
    return RemoteKeySet(URL, provider.fetch, clock, refresh_seconds=300, min_refetch_seconds=30, max_stale_seconds=600)


def test_fetched_once_and_refreshed_after_its_time(provider: Provider, keys: RemoteKeySet, clock: FrozenClock) -> None:
    assert provider.calls == 0  # nothing is fetched before it is needed
    assert keys.find("k1") is not None and keys.find("k1") is not None
    assert provider.calls == 1
    clock.advance(timedelta(seconds=299))
    keys.find("k1")
    assert provider.calls == 1
    clock.advance(timedelta(seconds=1))
    keys.find("k1")
    assert provider.calls == 2


def test_a_new_kid_is_fetched_at_once_but_made_up_kids_are_rate_limited(
    provider: Provider, keys: RemoteKeySet, clock: FrozenClock
) -> None:
    assert keys.find("k1") is not None
    clock.advance(timedelta(seconds=30))
    provider.keys.append(jose.SigningKey.generate("ES256", kid="k2"))  # the provider rotates
    assert keys.find("k2") is not None and provider.calls == 2
    for _ in range(100):  # a flood of tokens naming keys that do not exist
        assert keys.find("made-up") is None
    assert provider.calls == 2
    clock.advance(timedelta(seconds=30))
    assert keys.find("made-up") is None and provider.calls == 3


def test_an_outage_keeps_the_old_keys_for_a_while_then_fails_closed(
    provider: Provider, keys: RemoteKeySet, clock: FrozenClock
) -> None:
    assert keys.find("k1") is not None
    provider.down = True
    clock.advance(timedelta(seconds=300 + 599))
    assert keys.find("k1") is not None  # stale but within max_stale_seconds
    clock.advance(timedelta(seconds=2))
    assert keys.find("k1") is None  # too old: refused rather than trusted forever
    provider.down = False
    clock.advance(timedelta(seconds=30))
    assert keys.find("k1") is not None  # back once the provider answers


def test_a_provider_down_from_the_start_or_publishing_garbage_verifies_nothing(
    provider: Provider, keys: RemoteKeySet, clock: FrozenClock
) -> None:
    provider.down = True
    assert keys.find("k1") is None
    provider.down = False
    provider.document = {"keys": "not a list"}
    clock.advance(timedelta(seconds=30))
    assert keys.find("k1") is None and provider.calls == 2
    provider.document = None
    clock.advance(timedelta(seconds=30))
    assert keys.find("k1") is not None
