"""A server takes its long-lived heap out of the cyclic collector's way after every compile, and gives it back on
shutdown (``remit.api.app.settle_heap``)."""

from __future__ import annotations

import gc

from remit.admin.access import AdminPrincipal
from remit.container import Remit
from tests.api.conftest import serve


def test_the_heap_is_frozen_after_each_compile_and_unfrozen_at_shutdown(remit: Remit, admin: AdminPrincipal) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    with serve(remit):
        started = gc.get_freeze_count()
        assert started > 10_000  # the compiled state, the app, the container: everything alive at start-up
        gc.unfreeze()
        remit.policies.apply(admin, '@id("p")\npermit(principal, action, resource);')
        assert remit.refresher.refresh()  # a change compiled: frozen again
        assert gc.get_freeze_count() > 10_000
    assert gc.get_freeze_count() == 0
    remit.refresher.refresh(force=True)  # no server any more: nothing is frozen behind the caller's back
    assert gc.get_freeze_count() == 0
