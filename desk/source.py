"""Where a desk's verifier, register and policies come from.

The same pages run in two places: inside the central service (:class:`CentralSource`:
the service's keys folder and the issuer's status lists) and in a stand-alone desk
station (:class:`FolderSource`: the folder ``certfree sync --to DIR`` writes, with its
own replay cache and register, and no connection to the issuer). The pages ask
``source()`` for the one their app was given."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

from flask import current_app

from scenarios import Policy, load_policies
from scenarios.register import Register
from verifier import SqliteReplayCache, Verifier, load_status_lists, load_trust_list

EXTENSION = "certfree.desk_source"


@dataclass(frozen=True)
class Freshness:
    """How old the desk's trust list and status lists are (seconds; None: none held)."""

    trust_age: int
    status_age: int | None

    def stale(self, policy: Policy) -> bool:
        """Past the scenario's staleness limit (or no status list held at all)."""
        return self.status_age is None or self.status_age > policy.status_max_age_seconds


class DeskSource(Protocol):
    def verifier(self) -> Verifier: ...  # raises VerificationFailed when its files are refused
    def register(self) -> Register: ...
    def policies(self) -> Mapping[str, Policy]: ...
    def now(self) -> float: ...


def source() -> DeskSource:
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]


def freshness(verifier: Verifier, now: float) -> Freshness:
    status = verifier.status.oldest_age(now) if verifier.status is not None else None
    return Freshness(verifier.trust.age(now), status)


class CentralSource:
    """The central service's desk: the service's own keys and the issuer's records."""

    def verifier(self) -> Verifier:
        from issuer.service import context

        return context.desk_verifier()  # type: ignore[no-any-return]

    def register(self) -> Register:
        from issuer.service import context

        return context.desk_register()  # type: ignore[no-any-return]

    def policies(self) -> Mapping[str, Policy]:
        from issuer.service import context

        return context.policies()

    def now(self) -> float:
        from issuer.service import context

        return context.now()


class FolderSource:
    """A stand-alone station's desk, from a synced folder::

        DIR/trust_list.jws  DIR/root.jwk.json  DIR/status/*.jws   (certfree sync --to DIR)
        DIR/replay.db  DIR/register.db                              (the station's own)

    The trust list and status lists are read again whenever a file of theirs changes
    (a sync replaced it); a trust list older than the one held is refused."""

    def __init__(self, data: Path, clock: Callable[[], float], policies_dir: str | None = None) -> None:
        self.data = Path(data)
        self._clock = clock
        self._policies_dir = policies_dir
        self._lock = threading.Lock()
        self._verifier: Verifier | None = None
        self._seen: tuple[Any, ...] | None = None
        self._register: Register | None = None

    def _snapshot(self) -> tuple[Any, ...]:
        files = [self.data / "trust_list.jws", self.data / "root.jwk.json", *sorted((self.data / "status").glob("*.jws"))]
        return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files if p.exists())

    def verifier(self) -> Verifier:
        with self._lock:
            seen = self._snapshot()
            if self._verifier is None or seen != self._seen:
                root = json.loads((self.data / "root.jwk.json").read_text("utf-8"))
                held = self._verifier.trust if self._verifier is not None else None
                trust = load_trust_list((self.data / "trust_list.jws").read_text("ascii"), root, held=held)
                status_dir = self.data / "status"
                status = load_status_lists(status_dir, trust) if status_dir.is_dir() else None
                if self._verifier is None:
                    cache = SqliteReplayCache(str(self.data / "replay.db"))
                    self._verifier = Verifier(trust, clock=self._clock, replay_cache=cache,
                                              policies=self.policies(), status=status)
                else:
                    self._verifier.trust, self._verifier.status = trust, status
                self._seen = seen
            return self._verifier

    def register(self) -> Register:
        with self._lock:
            if self._register is None:
                self._register = Register(self.data / "register.db")
            return self._register

    def policies(self) -> Mapping[str, Policy]:
        return load_policies(self._policies_dir)

    def now(self) -> float:
        return float(self._clock())


__all__ = ["Freshness", "DeskSource", "CentralSource", "FolderSource", "source", "freshness", "EXTENSION"]
