"""Identifiers: prefixed, URL-safe, time-ordered, and never handed out twice, across threads and after a fork."""

from __future__ import annotations

import base64
import os
import re
import threading

import pytest

from remit import ids
from remit.ids import new_id, new_secret, time_text


def test_an_id_is_prefixed_and_url_safe() -> None:
    assert re.fullmatch(r"dec_[A-Za-z0-9_-]{23}", new_id("dec"))
    assert re.fullmatch(r"evt_[A-Za-z0-9_-]{50}", new_id("evt", 32))
    assert re.fullmatch(r"remit_adm_[A-Za-z0-9_-]{43}", new_secret("remit_adm"))


def test_ids_made_on_many_threads_are_all_distinct() -> None:
    made: list[list[str]] = [[] for _ in range(8)]

    def make(out: list[str]) -> None:
        out.extend(new_id("dec") for _ in range(2000))  # several refills of the random pool

    threads = [threading.Thread(target=make, args=(out,)) for out in made]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for out in made for i in out]
    assert len(set(every)) == len(every) == 16_000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    new_id("dec")  # the pool holds unused bytes now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id, then leave at once
        os.write(write, new_id("dec").encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 100).decode()
    os.close(read)
    assert child != new_id("dec")


def test_a_default_id_is_its_own_bytes_encoded() -> None:
    # The default-sized ids are sliced from the text of many ids' bytes encoded at once: each slice must be what
    # encoding its own 12 bytes gives (12 bytes are whole base64 groups, so no padding and no overlap).
    raw = os.urandom(12 * 341)
    whole = base64.urlsafe_b64encode(raw).decode()
    for i in range(341):
        assert whole[16 * i : 16 * i + 16] == base64.urlsafe_b64encode(raw[12 * i : 12 * i + 12]).decode()
    made = [new_id("dec") for _ in range(1000)]  # several batches
    assert all(re.fullmatch(r"dec_[A-Za-z0-9_-]{23}", i) for i in made) and len(set(made)) == 1000


def test_ids_sort_as_text_in_the_order_of_their_milliseconds(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_796_000_000_000]  # 2026-11-29
    monkeypatch.setattr(ids, "_now_ms", lambda: now[0])
    made: list[str] = []
    for step in (1, 1, 63, 64, 4095, 4096, 86_400_000, 10**12):
        now[0] += step
        same_ms = [new_id("dec"), new_id("dec", 32), new_id("dec")]
        assert {i[4:11] for i in same_ms} == {time_text(now[0])}  # one millisecond, one time part
        made.append(same_ms[0])
    assert made == sorted(made)  # a later millisecond sorts after, whatever the random part


def test_the_time_part_lasts_until_2109_and_is_the_milliseconds_in_base64_order() -> None:
    assert time_text(0) == "-------"
    assert time_text(1) == "------0"
    assert time_text(63) == "------z"
    assert time_text(64) == "-----0-"
    assert time_text(2**42 - 1) == "zzzzzzz"  # 2109-05-15
    values = [0, 1, 63, 64, 65, 4095, 4096, 1_796_000_000_000, 2**41, 2**42 - 2, 2**42 - 1]
    assert [time_text(v) for v in values] == sorted(time_text(v) for v in values)
