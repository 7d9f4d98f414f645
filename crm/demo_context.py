"""What ``seed_demo`` hands to each app's ``demo.seed``."""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass, field

from django.utils import timezone
from faker import Faker

DEMO_PASSWORD = "demo-pass-2026"  # demo data only, printed by seed_demo  # noqa: S105


@dataclass
class DemoContext:
    """Shared state of one demo seeding run: a seeded RNG and the 'now' it uses."""

    size: int = 1
    seed: int = 42
    quiet: bool = False
    now: datetime.datetime = field(default_factory=timezone.now)
    rng: random.Random = field(init=False)
    fake: Faker = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.fake = Faker(["en_US", "fr_FR"])
        self.fake.seed_instance(self.seed)

    @property
    def today(self) -> datetime.date:
        return timezone.localdate(self.now)

    def moment_between(
        self, start: datetime.datetime, end: datetime.datetime
    ) -> datetime.datetime:
        """Return a pseudo-random aware datetime in [start, end]."""
        span = max((end - start).total_seconds(), 0)
        return start + datetime.timedelta(seconds=self.rng.uniform(0, span))
