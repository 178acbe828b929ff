"""Error types raised by claim validation.

Messages never contain the submitted value (it may be personal data); they
name the field and the reason, in English and in Chinese.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class FieldError:
    """One problem with one field.

    ``code`` is a stable snake_case identifier (e.g. ``bad_check_digit``);
    ``message`` / ``message_zh`` give the reason in English / Chinese.
    """

    field: str
    code: str
    message: str
    message_zh: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


class ClaimsInvalid(ValueError):
    """Raised by :func:`validate`; ``errors`` lists every bad field."""

    def __init__(
        self,
        errors: Iterable[FieldError],
        labels: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        self._labels: Mapping[str, tuple[str, str]] = labels or {}
        super().__init__(self._render_en())

    @property
    def fields(self) -> tuple[str, ...]:
        """Names of the fields with errors, in report order (may repeat)."""
        return tuple(e.field for e in self.errors)

    @property
    def codes(self) -> dict[str, str]:
        """field -> code of its first error (handy in tests and APIs)."""
        out: dict[str, str] = {}
        for e in self.errors:
            out.setdefault(e.field, e.code)
        return out

    @property
    def message_zh(self) -> str:
        parts = []
        for e in self.errors:
            label = self._labels.get(e.field, (e.field, e.field))[0]
            if label != e.field:
                label = f"{label}（{e.field}）"
            parts.append(f"{label} [{e.code}]：{e.message_zh}")
        return f"证照信息有误（共 {len(self.errors)} 项）：" + "；".join(parts)

    def _render_en(self) -> str:
        parts = [f"{e.field} [{e.code}]: {e.message}" for e in self.errors]
        n = len(self.errors)
        noun = "error" if n == 1 else "errors"
        return f"invalid claims ({n} {noun}): " + "; ".join(parts)

    def to_list(self) -> list[dict[str, str]]:
        return [e.to_dict() for e in self.errors]
