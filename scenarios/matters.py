"""The window matters catalogue: which licences each matter needs.

The catalogue is ``scenarios/matters.toml``.  Semantics, kept simple:

* ``requires``: every licence type listed must be presented (non-empty);
* ``one_of``: optional groups; from *each* group at least one type must be
  presented (``[["id_card", "household_book"]]`` = ID card OR booklet);
* a matter is done when both hold.  A type never appears in both, and a
  group has at least two distinct types.

"Presented" means presented AND verified valid: the caller passes only the
licence types whose presentations the verifier accepted.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from .licences import LICENCE_FIELDS, LICENCE_TITLES, licence_title_en, licence_title_zh

__all__ = [
    "Matter",
    "MatterCheck",
    "MatterError",
    "UnknownMatterError",
    "DEPARTMENTS",
    "LICENCE_TITLES",
    "MATTERS_FILE",
    "load_matters",
    "get_matter",
    "check_matter",
    "matters_by_department",
]

#: department code -> (Chinese name, English name), in display order.
DEPARTMENTS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "household_registration": ("户政", "Household registration"),
        "exit_entry": ("出入境", "Exit and entry"),
        "traffic_police": ("交警", "Traffic police"),
        "municipal": ("市政服务窗口", "Municipal services"),
    }
)

#: The packaged catalogue.
MATTERS_FILE: Path = Path(__file__).resolve().parent / "matters.toml"

_ID_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")  # fullmatch: "$" would let a final newline through
_MATTER_KEYS = frozenset(
    {"id", "title_zh", "title_en", "department", "department_zh", "requires", "one_of"}
)
_REQUIRED = _MATTER_KEYS - {"one_of"}


class MatterError(ValueError):
    """The catalogue is wrong (message names the file, the matter and the key)."""

    def __str__(self) -> str:  # not KeyError's quoting, for the subclass below
        return str(self.args[0]) if self.args else ""


class UnknownMatterError(MatterError, KeyError):
    """No matter has that id (a :class:`MatterError` and a :class:`KeyError`)."""


@dataclass(frozen=True)
class Matter:
    id: str
    title_zh: str
    title_en: str
    department: str
    department_zh: str
    requires: tuple[str, ...]
    one_of: tuple[tuple[str, ...], ...] = ()

    @property
    def licence_types(self) -> frozenset[str]:
        """Every licence type the matter mentions (required or alternative)."""
        return frozenset(self.requires).union(*self.one_of)


@dataclass(frozen=True)
class MatterCheck:
    """Result of :func:`check_matter`."""

    matter: Matter
    done: bool
    missing: tuple[str, ...]
    missing_one_of: tuple[tuple[str, ...], ...]

    def message(self) -> str:
        """English summary, e.g. "Missing: household register book"."""
        if self.done:
            return f"{self.matter.title_en}: all required licences presented"
        parts = []
        if self.missing:
            parts.append("Missing: " + ", ".join(licence_title_en(t) for t in self.missing))
        for group in self.missing_one_of:
            parts.append("Missing one of: " + " or ".join(licence_title_en(t) for t in group))
        return "; ".join(parts)

    def message_zh(self) -> str:
        """Chinese summary, e.g. "缺少：户口簿"."""
        if self.done:
            return f"{self.matter.title_zh}：材料齐全"
        parts = []
        if self.missing:
            parts.append("缺少：" + "、".join(licence_title_zh(t) for t in self.missing))
        for group in self.missing_one_of:
            parts.append("缺少其一：" + "或".join(licence_title_zh(t) for t in group))
        return "；".join(parts)


def _fail(file: str, where: str, key: str | None, message: str) -> MatterError:
    loc = f"{file}: {where}" + (f" key {key!r}" if key else "")
    return MatterError(f"{loc}: {message}")


def _types(value: Any, file: str, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise _fail(file, where, key, "must be a non-empty list of licence types")
    out: list[str] = []
    for t in value:
        if not isinstance(t, str) or t not in LICENCE_FIELDS:
            raise _fail(file, where, key, f"unknown licence type {t!r}")
        if t in out:
            raise _fail(file, where, key, f"{t!r} is listed twice")
        out.append(t)
    return tuple(out)


def _parse(data: Mapping[str, Any], file: str) -> dict[str, Matter]:
    for k in data:
        if k != "matter":
            raise _fail(file, "top level", k, "unknown key (expected [[matter]] tables)")
    items = data.get("matter")
    if not isinstance(items, list) or not items:
        raise _fail(file, "top level", "matter", "no [[matter]] tables")
    matters: dict[str, Matter] = {}
    for i, item in enumerate(items):
        where = f"matter[{i}]"
        if not isinstance(item, dict):
            raise _fail(file, where, None, "must be a table")
        if isinstance(item.get("id"), str):
            where = f"matter[{i}] ({item['id']})"
        for k in item:
            if k not in _MATTER_KEYS:
                raise _fail(file, where, k, "unknown key")
        for k in sorted(_REQUIRED):
            if k not in item:
                raise _fail(file, where, k, "missing required key")
        for k in ("id", "title_zh", "title_en", "department", "department_zh"):
            if not isinstance(item[k], str) or not item[k].strip():
                raise _fail(file, where, k, "must be a non-empty string")
        mid = item["id"]
        if not _ID_RE.fullmatch(mid):
            raise _fail(file, where, "id", f"{mid!r} is not a lowercase ascii slug")
        if mid in matters:
            raise _fail(file, where, "id", f"duplicate id {mid!r}")
        if item["department"] not in DEPARTMENTS:
            raise _fail(
                file, where, "department",
                f"{item['department']!r} is not one of {list(DEPARTMENTS)}",
            )
        requires = _types(item["requires"], file, where, "requires")
        raw_groups = item.get("one_of", [])
        if not isinstance(raw_groups, list):
            raise _fail(file, where, "one_of", "must be a list of lists of licence types")
        groups: list[tuple[str, ...]] = []
        for j, raw in enumerate(raw_groups):
            group = _types(raw, file, where, f"one_of[{j}]")
            if len(group) < 2:
                raise _fail(file, where, f"one_of[{j}]", "an alternative needs at least two types")
            clash = [t for t in group if t in requires]
            if clash:
                raise _fail(file, where, f"one_of[{j}]", f"{clash[0]!r} is also in requires")
            if group in groups:
                raise _fail(file, where, f"one_of[{j}]", "duplicate group")
            groups.append(group)
        matters[mid] = Matter(
            id=mid,
            title_zh=item["title_zh"],
            title_en=item["title_en"],
            department=item["department"],
            department_zh=item["department_zh"],
            requires=requires,
            one_of=tuple(groups),
        )
    return matters


_cache: dict[Path, tuple[tuple[int, int], Mapping[str, Matter]]] = {}
_cache_lock = Lock()


def load_matters(path: Path | str | None = None) -> Mapping[str, Matter]:
    """The catalogue (default: the packaged ``matters.toml``), by id, in file order.

    Validated (unique ids, known licence types, known departments) and
    cached per file; the cache is refreshed when the file changes.
    """
    file = MATTERS_FILE if path is None else Path(path)
    try:
        file = file.resolve(strict=True)
        st = file.stat()
    except OSError as exc:
        raise MatterError(f"{file.name}: cannot read: {exc.strerror or exc}") from exc
    stamp = (st.st_mtime_ns, st.st_size)
    with _cache_lock:
        hit = _cache.get(file)
        if hit is not None and hit[0] == stamp:
            return hit[1]
    try:
        with file.open("rb") as fp:
            data = tomllib.load(fp)
    except tomllib.TOMLDecodeError as exc:
        raise MatterError(f"{file.name}: not valid TOML: {exc}") from exc
    result: Mapping[str, Matter] = MappingProxyType(_parse(data, file.name))
    with _cache_lock:
        _cache[file] = (stamp, result)
    return result


def get_matter(matter_id: str) -> Matter:
    """The packaged matter ``matter_id``; :class:`UnknownMatterError` if none."""
    matters = load_matters()
    try:
        return matters[matter_id]
    except (KeyError, TypeError):
        raise UnknownMatterError(f"unknown matter {matter_id!r}") from None


def matters_by_department(
    matters: Mapping[str, Matter] | None = None,
) -> Mapping[str, tuple[Matter, ...]]:
    """Matters grouped by department code, departments in :data:`DEPARTMENTS` order."""
    source = load_matters() if matters is None else matters
    return MappingProxyType(
        {d: tuple(m for m in source.values() if m.department == d) for d in DEPARTMENTS}
    )


def check_matter(matter: Matter, presented: Iterable[str]) -> MatterCheck:
    """Whether the licence types ``presented`` (and verified valid) suffice.

    ``missing`` lists the required types not presented (in ``requires``
    order); ``missing_one_of`` the alternative groups of which none was
    presented.  An unknown licence type in ``presented`` is a ValueError.
    """
    have = set()
    for t in presented:
        if t not in LICENCE_FIELDS:
            raise ValueError(f"unknown licence type {t!r}")
        have.add(t)
    missing = tuple(t for t in matter.requires if t not in have)
    missing_one_of = tuple(g for g in matter.one_of if not any(t in have for t in g))
    return MatterCheck(
        matter=matter,
        done=not missing and not missing_one_of,
        missing=missing,
        missing_one_of=missing_one_of,
    )

