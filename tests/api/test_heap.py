"""A server takes its long-lived heap out of the cyclic collector's way after every compile, collects less often
while it runs, and gives the collector back as it was on shutdown (``remit.policy.refresh``)."""

from __future__ import annotations

import gc

from remit.admin.access import AdminPrincipal
from remit.container import Remit
from remit.policy.refresh import SERVER_GC_THRESHOLDS
from tests.api.conftest import serve


def test_the_heap_is_frozen_after_each_compile_and_unfrozen_at_shutdown(remit: Remit, admin: AdminPrincipal) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    before = gc.get_threshold()
    with serve(remit):
        assert gc.get_threshold() == SERVER_GC_THRESHOLDS
        started = gc.get_freeze_count()
        assert started > 10_000  # the compiled state, the app, the container: everything alive at start-up
        gc.unfreeze()
        remit.policies.apply(admin, '@id("p")\npermit(principal, action, resource);')
        # a change compiled: frozen again (forced: the server's own refresher thread may have compiled it first)
        assert remit.refresher.refresh(force=True)
        assert gc.get_freeze_count() > 10_000
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
    remit.refresher.refresh(force=True)  # no server any more: nothing is frozen behind the caller's back
    assert gc.get_freeze_count() == 0
