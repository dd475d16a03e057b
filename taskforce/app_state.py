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
    #: The database's own: its units of work publish on it after they commit.
    signals: Signals = field(init=False)
    limits: WebLimits = field(init=False)

    def __post_init__(self) -> None:
        self.signals = self.db.signals
        self.limits = WebLimits.from_settings(self.settings)
