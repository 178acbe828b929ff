"""Helpers for integrators testing their own code against the verifier."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FixedClock:
    """A clock that returns ``now`` until moved: ``Verifier(trust, clock=FixedClock(t))``."""

    now: float

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
