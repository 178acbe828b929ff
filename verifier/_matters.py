"""一证办: checking a set of presentations against a government window matter."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from scenarios.matters import MatterCheck, UnknownMatterError, get_matter, check_matter

from ._core import Verifier, VerifiedLicence
from ._errors import UnknownMatter, VerificationFailed

if TYPE_CHECKING:
    from PIL import Image


@dataclass(frozen=True)
class MatterResult:
    """Which licences were verified, which failed and why, and what the matter still needs."""

    check: MatterCheck
    verified: tuple[VerifiedLicence, ...]
    rejected: tuple[VerificationFailed, ...]

    @property
    def done(self) -> bool:
        return self.check.done and not self.rejected


def verify_matter(
    verifier: Verifier,
    matter_id: str,
    presentations: Iterable[str | bytes | Path | Image.Image],
    *,
    now: float | None = None,
) -> MatterResult:
    """Verify every presentation at the ``window`` scenario and check them against the matter.

    An unknown ``matter_id`` raises :class:`VerificationFailed` with ``unknown_matter``
    (as an unknown scenario does with ``unknown_scenario``), before anything is verified.
    """
    try:
        matter = get_matter(matter_id)
    except UnknownMatterError:
        raise VerificationFailed([UnknownMatter(field="matter")]) from None
    verified: list[VerifiedLicence] = []
    rejected: list[VerificationFailed] = []
    for item in presentations:
        try:
            verified.append(verifier.verify(item, scenario="window", now=now))
        except VerificationFailed as exc:
            rejected.append(exc)
    check = check_matter(matter, [v.licence_type for v in verified])
    return MatterResult(check, tuple(verified), tuple(rejected))
