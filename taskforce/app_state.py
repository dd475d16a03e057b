"""What a running app holds: settings, the database, and the in-process wake-ups."""

from __future__ import annotations

from dataclasses import dataclass, field

from taskforce.config import Settings
from taskforce.db import Database
from taskforce.rate_limits import WebLimits
from taskforce.signals import Signals


@dataclass
class AppState:
    settings: Settings
    db: Database
    signals: Signals = field(default_factory=Signals)
    limits: WebLimits = field(init=False)

    def __post_init__(self) -> None:
        self.limits = WebLimits.from_settings(self.settings)
