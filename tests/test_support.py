"""The test helpers themselves: a missing requirement skips locally and fails in CI."""

from __future__ import annotations

import pytest
import support

MISSING = "segkit_no_such_module"


def test_require_module_returns_the_module():
    assert support.require_module("json", "the standard library") is __import__("json")


def test_require_module_skips_on_a_users_machine(monkeypatch):
    monkeypatch.setattr(support, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="the demo extra"):
        support.require_module(MISSING, "the demo extra")


def test_require_module_fails_in_ci(monkeypatch):
    monkeypatch.setattr(support, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="required in CI: .*the demo extra"):
        support.require_module(MISSING, "the demo extra")
