"""Lazy package exports: a name is imported from its module on first use, once; an unknown name is an error."""

from __future__ import annotations

import subprocess
import sys

import pytest

import remit.registry
from remit import lazy


def test_an_export_is_imported_on_first_use_and_kept() -> None:
    code = (
        "import sys, remit.policy as p\n"
        "assert 'remit.policy.engine' not in sys.modules\n"
        "engine = p.PolicyEngine\n"
        "assert 'remit.policy.engine' in sys.modules\n"
        "assert 'PolicyEngine' in vars(p) and p.PolicyEngine is engine\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"module 'remit\.registry' has no attribute 'Nope'"):
        remit.registry.Nope  # noqa: B018
    getter = lazy.exports("remit.registry", {})
    with pytest.raises(AttributeError):
        getter("Agent")
