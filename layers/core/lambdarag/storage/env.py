"""Reading an adapter's settings from an environment mapping.

Adapters never read ``os.environ`` themselves: ``config.Settings.storage_environ`` hands
them the values, and their ``from_env`` classmethods read them through :class:`EnvReader`
so blank values, numbers and flags mean the same thing for every backend.
"""

from __future__ import annotations

from collections.abc import Mapping

TRUE_WORDS = ("1", "true", "yes", "on")


class EnvReader:
    """Typed reads of ``environ``; a missing or blank value gives the fallback."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def text(self, name: str, fallback: str = "") -> str:
        value = self._environ.get(name)
        return value.strip() if value is not None and value.strip() else fallback

    def number(self, name: str, fallback: int) -> int:
        return int(self.text(name, str(fallback)))

    def flag(self, name: str, fallback: bool) -> bool:
        return self.text(name, str(fallback)).lower() in TRUE_WORDS
