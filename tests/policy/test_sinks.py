"""Log-only outcomes are logged with ids and names, never with the request's context."""

from __future__ import annotations

import logging

import pytest

from remit.policy.model import AuthzRequest, Decision, DenyCode, Effect, EntityRef, Mode
from remit.policy.sinks import log_would_deny

REQUEST = AuthzRequest(EntityRef("Agent", "bot"), "read", EntityRef("Tool", "t"), {"api_key": "sk-live-secret"})


def _decision(mode: Mode, allowed: bool, effect: Effect) -> Decision:
    return Decision(
        decision_id="dec_1",
        allowed=allowed,
        effect=effect,
        policy_version=3,
        mode=mode,
        reasons=("no-prod",),
        deny_code=DenyCode.FORBIDDEN if effect is Effect.DENY else None,
    )


def test_log_only_would_deny_is_logged_without_context(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="remit.decisions"):
        log_would_deny(REQUEST, _decision(Mode.LOG_ONLY, True, Effect.DENY))
    assert len(caplog.records) == 1
    line = caplog.records[0].getMessage()
    assert "would deny" in line and "dec_1" in line and "no-prod" in line and 'Agent::"bot"' in line
    assert "sk-live-secret" not in caplog.text


@pytest.mark.parametrize(
    ("mode", "allowed", "effect"),
    [(Mode.ENFORCE, False, Effect.DENY), (Mode.LOG_ONLY, True, Effect.ALLOW), (Mode.LOG_ONLY, False, Effect.DENY)],
)
def test_other_decisions_are_not_logged_here(
    caplog: pytest.LogCaptureFixture, mode: Mode, allowed: bool, effect: Effect
) -> None:
    with caplog.at_level(logging.INFO, logger="remit.decisions"):
        log_would_deny(REQUEST, _decision(mode, allowed, effect))
    assert caplog.records == []
