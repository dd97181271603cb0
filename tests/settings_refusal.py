"""The start-up refusal of a bad setting, as the settings tests check it."""

from __future__ import annotations

import pytest

from lambdarag.config import SettingsError, load_settings


def refusal(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> str:
    """The one-line message ``load_settings`` refuses ``env`` with (it must refuse)."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message
    return message
