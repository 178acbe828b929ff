"""Scenario policies: which licences a desk accepts and which claims it sees.

One reviewable TOML file per scenario lives in ``scenarios/policies/``.  The
loader is strict: an unknown key, an unknown licence type, a disclosed name
that the licence type does not carry, a register field that no accepted type
discloses, or a number out of range is refused with a :class:`PolicyError`
naming the file and the key.

Keys of a policy file::

    name                    str, equal to the file name without ".toml"
    title_zh, title_en      str
    accepts                 [licence type, ...]           (non-empty, unique)
    [disclose]              licence type = [claim, ...]   (one per accepted type)
    min_age                 int, optional (18 needs age_over_18 disclosed,
                            any other age needs birth_date disclosed)
    register                [claim, ...]   claims the desk's register keeps
    [[clerk_fields]]        name, label_zh, label_en, kind, required, max_length,
                            keep (optional, default false: the desk page fills the field
                            with the value last recorded in that browser tab)
    freshness_seconds       int 10..600,   default 60
    clock_skew_seconds      int 0..300,    default 30
    status_max_age_seconds  int 60..2592000 (how stale a revocation list may be)
    status_unknown          "refuse" | "warn"
    retention_days          int 1..3650, default 30 (how long the desk's register keeps an entry;
                            older entries are purged automatically)
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from types import MappingProxyType
from typing import Any, Mapping

from .licences import (
    DERIVED_CLAIM_SOURCES,
    DERIVED_CLAIMS,
    LICENCE_FIELDS,
    LICENCE_TITLES,
    LICENCE_TYPES,
)

__all__ = [
    "ClerkField",
    "Policy",
    "PolicyError",
    "UnknownPolicyError",
    "LICENCE_FIELDS",
    "LICENCE_TITLES",
    "LICENCE_TYPES",
    "DERIVED_CLAIMS",
    "SCENARIOS",
    "CLERK_KINDS",
    "STATUS_UNKNOWN_CHOICES",
    "POLICIES_DIR",
    "load_policies",
    "load_policy",
    "get_policy",
]

#: The six scenarios, in their canonical order.
SCENARIOS: tuple[str, ...] = (
    "hotel",
    "internet_cafe",
    "fuel_purchase",
    "street_check",
    "ebike_check",
    "window",
)

CLERK_KINDS: frozenset[str] = frozenset({"text", "integer", "decimal"})
STATUS_UNKNOWN_CHOICES: frozenset[str] = frozenset({"refuse", "warn"})

#: The packaged policies directory.
POLICIES_DIR: Path = Path(__file__).resolve().parent / "policies"

DEFAULT_FRESHNESS_SECONDS = 60
DEFAULT_CLOCK_SKEW_SECONDS = 30

FRESHNESS_RANGE = (10, 600)
CLOCK_SKEW_RANGE = (0, 300)
STATUS_MAX_AGE_RANGE = (60, 30 * 24 * 3600)
MIN_AGE_RANGE = (1, 120)
MAX_LENGTH_RANGE = (1, 1000)
RETENTION_DAYS_RANGE = (1, 3650)
DEFAULT_RETENTION_DAYS = 30  # each packaged policy states its own, with the reason

#: Column names the register and its CSV export use for themselves; no
#: register or clerk field may take them.
RESERVED_NAMES: frozenset[str] = frozenset(
    {"id", "scenario", "licence_type", "recorded_at", "matter", "fields"}
)

_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")  # fullmatch: "$" would let a final newline through

_REQUIRED_KEYS = frozenset(
    {
        "name",
        "title_zh",
        "title_en",
        "accepts",
        "disclose",
        "register",
        "status_max_age_seconds",
        "status_unknown",
    }
)
_OPTIONAL_KEYS = frozenset(
    {"min_age", "clerk_fields", "freshness_seconds", "clock_skew_seconds", "retention_days"}
)
_CLERK_KEYS = frozenset(
    {"name", "label_zh", "label_en", "kind", "required", "max_length"}
)


class PolicyError(ValueError):
    """A policy file is wrong (or a policy name is unknown).

    ``file`` is the file's name (or ``None``), ``key`` the dotted key that is
    wrong (or ``None``); both appear in the message.
    """

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None):
        self.file = file
        self.key = key
        self.detail = message
        where = []
        if file is not None:
            where.append(file)
        if key is not None:
            where.append(f"key {key!r}")
        text = f"{': '.join(where)}: {message}" if where else message
        super().__init__(text)

    def __str__(self) -> str:  # not KeyError's quoting, for the subclass below
        return str(self.args[0]) if self.args else ""


class UnknownPolicyError(PolicyError, KeyError):
    """No policy has that name (a :class:`PolicyError` and a :class:`KeyError`)."""


@dataclass(frozen=True)
class ClerkField:
    """A field the clerk types at the desk (room number, litres, place...)."""

    name: str
    label_zh: str
    label_en: str
    kind: str  # "text" | "integer" | "decimal"
    required: bool
    max_length: int
    keep: bool = False  # the same from one entry to the next (a patrol's place): the desk page fills it in


@dataclass(frozen=True)
class Policy:
    """One scenario's policy, as loaded and validated from its TOML file."""

    name: str
    title_zh: str
    title_en: str
    accepts: tuple[str, ...]
    disclose: Mapping[str, frozenset[str]]
    min_age: int | None
    register: tuple[str, ...]
    clerk_fields: tuple[ClerkField, ...]
    freshness_seconds: int
    clock_skew_seconds: int
    status_max_age_seconds: int
    status_unknown: str  # "refuse" | "warn"
    retention_days: int  # the desk's register purges entries older than this

    def __hash__(self) -> int:  # disclose is a mappingproxy, not hashable
        return hash((self.name, self.accepts, self.register, self.clerk_fields))

    def disclosed_for(self, licence_type: str) -> frozenset[str]:
        """Claims disclosed for ``licence_type``; empty if it is not accepted."""
        return self.disclose.get(licence_type, frozenset())

    def accepts_type(self, licence_type: str) -> bool:
        return licence_type in self.accepts

    @property
    def clerk_field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.clerk_fields)

    def clerk_field(self, name: str) -> ClerkField | None:
        for f in self.clerk_fields:
            if f.name == name:
                return f
        return None


# ---------------------------------------------------------------------------
# loading and validation


class _Checker:
    def __init__(self, file: str):
        self.file = file

    def fail(self, key: str | None, message: str) -> PolicyError:
        return PolicyError(message, file=self.file, key=key)

    def string(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be a non-empty string")
        return value

    def name(self, value: Any, key: str) -> str:
        text = self.string(value, key)
        if not _NAME_RE.fullmatch(text):
            raise self.fail(key, f"{text!r} is not a lowercase ascii name")
        return text

    def integer(self, value: Any, key: str, lo: int, hi: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, "must be an integer")
        if not lo <= value <= hi:
            raise self.fail(key, f"{value} is out of range {lo}..{hi}")
        return value

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value

    def name_list(self, value: Any, key: str, *, allow_empty: bool = False) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail(key, "must be a list of names")
        if not value and not allow_empty:
            raise self.fail(key, "must not be empty")
        names: list[str] = []
        for i, item in enumerate(value):
            text = self.name(item, f"{key}[{i}]")
            if text in names:
                raise self.fail(key, f"{text!r} is listed twice")
            names.append(text)
        return tuple(names)

    def keys(self, table: Mapping[str, Any], key: str | None, required: frozenset[str], optional: frozenset[str]) -> None:
        prefix = f"{key}." if key else ""
        for k in table:
            if k not in required and k not in optional:
                raise self.fail(f"{prefix}{k}", "unknown key")
        for k in sorted(required):
            if k not in table:
                raise self.fail(f"{prefix}{k}", "missing required key")


def _offers(licence_type: str, claim: str) -> bool:
    """Whether ``licence_type`` can carry ``claim`` (a field or a derived claim)."""
    fields = LICENCE_FIELDS[licence_type]
    if claim in fields:
        return True
    sources = DERIVED_CLAIM_SOURCES.get(claim)
    return sources is not None and any(s in fields for s in sources)


def _parse(data: Mapping[str, Any], file: str, stem: str | None) -> Policy:
    c = _Checker(file)
    c.keys(data, None, _REQUIRED_KEYS, _OPTIONAL_KEYS)

    name = c.name(data["name"], "name")
    if stem is not None and name != stem:
        raise c.fail("name", f"{name!r} does not match the file name {stem!r}")
    title_zh = c.string(data["title_zh"], "title_zh")
    title_en = c.string(data["title_en"], "title_en")

    accepts = c.name_list(data["accepts"], "accepts")
    for i, t in enumerate(accepts):
        if t not in LICENCE_FIELDS:
            raise c.fail(f"accepts[{i}]", f"unknown licence type {t!r}")

    raw_disclose = data["disclose"]
    if not isinstance(raw_disclose, dict):
        raise c.fail("disclose", "must be a table: licence type = [claims]")
    for t in raw_disclose:
        if t not in LICENCE_FIELDS:
            raise c.fail(f"disclose.{t}", f"unknown licence type {t!r}")
        if t not in accepts:
            raise c.fail(f"disclose.{t}", f"{t!r} is not in accepts")
    disclose: dict[str, frozenset[str]] = {}
    for t in accepts:
        if t not in raw_disclose:
            raise c.fail(f"disclose.{t}", "accepted licence type has no disclose list")
        claims = c.name_list(raw_disclose[t], f"disclose.{t}")
        for i, claim in enumerate(claims):
            if claim in DERIVED_CLAIMS:
                if not _offers(t, claim):
                    raise c.fail(
                        f"disclose.{t}[{i}]",
                        f"derived claim {claim!r} cannot be computed from a {t}",
                    )
            elif claim not in LICENCE_FIELDS[t]:
                raise c.fail(
                    f"disclose.{t}[{i}]",
                    f"{claim!r} is neither a field of {t} nor a derived claim",
                )
        disclose[t] = frozenset(claims)

    min_age: int | None = None
    if "min_age" in data:
        min_age = c.integer(data["min_age"], "min_age", *MIN_AGE_RANGE)
        needed = "age_over_18" if min_age == 18 else "birth_date"
        for t in accepts:
            if needed not in disclose[t]:
                raise c.fail(
                    "min_age",
                    f"min_age {min_age} needs {needed!r} disclosed for {t}",
                )

    register = c.name_list(data["register"], "register", allow_empty=True)
    for i, field in enumerate(register):
        if field in RESERVED_NAMES:
            raise c.fail(f"register[{i}]", f"{field!r} is a reserved column name")
        if not any(field in disclose[t] for t in accepts):
            raise c.fail(
                f"register[{i}]",
                f"{field!r} is not disclosed for any accepted licence type",
            )

    raw_clerk = data.get("clerk_fields", [])
    if not isinstance(raw_clerk, list):
        raise c.fail("clerk_fields", "must be an array of tables ([[clerk_fields]])")
    clerk: list[ClerkField] = []
    for i, item in enumerate(raw_clerk):
        key = f"clerk_fields[{i}]"
        if not isinstance(item, dict):
            raise c.fail(key, "must be a table")
        c.keys(item, key, _CLERK_KEYS, frozenset({"keep"}))
        fname = c.name(item["name"], f"{key}.name")
        if fname in RESERVED_NAMES:
            raise c.fail(f"{key}.name", f"{fname!r} is a reserved column name")
        if fname in register:
            raise c.fail(f"{key}.name", f"{fname!r} is also a register field")
        if any(f.name == fname for f in clerk):
            raise c.fail(f"{key}.name", f"{fname!r} is defined twice")
        kind = c.string(item["kind"], f"{key}.kind")
        if kind not in CLERK_KINDS:
            raise c.fail(f"{key}.kind", f"{kind!r} is not one of {sorted(CLERK_KINDS)}")
        clerk.append(
            ClerkField(
                name=fname,
                label_zh=c.string(item["label_zh"], f"{key}.label_zh"),
                label_en=c.string(item["label_en"], f"{key}.label_en"),
                kind=kind,
                required=c.boolean(item["required"], f"{key}.required"),
                max_length=c.integer(item["max_length"], f"{key}.max_length", *MAX_LENGTH_RANGE),
                keep=c.boolean(item.get("keep", False), f"{key}.keep"),
            )
        )

    freshness = c.integer(
        data.get("freshness_seconds", DEFAULT_FRESHNESS_SECONDS),
        "freshness_seconds",
        *FRESHNESS_RANGE,
    )
    skew = c.integer(
        data.get("clock_skew_seconds", DEFAULT_CLOCK_SKEW_SECONDS),
        "clock_skew_seconds",
        *CLOCK_SKEW_RANGE,
    )
    status_max_age = c.integer(
        data["status_max_age_seconds"], "status_max_age_seconds", *STATUS_MAX_AGE_RANGE
    )
    status_unknown = c.string(data["status_unknown"], "status_unknown")
    if status_unknown not in STATUS_UNKNOWN_CHOICES:
        raise c.fail(
            "status_unknown",
            f"{status_unknown!r} is not one of {sorted(STATUS_UNKNOWN_CHOICES)}",
        )

    retention_days = c.integer(
        data.get("retention_days", DEFAULT_RETENTION_DAYS), "retention_days", *RETENTION_DAYS_RANGE
    )

    return Policy(
        name=name,
        title_zh=title_zh,
        title_en=title_en,
        accepts=accepts,
        disclose=MappingProxyType(disclose),
        min_age=min_age,
        register=register,
        clerk_fields=tuple(clerk),
        freshness_seconds=freshness,
        clock_skew_seconds=skew,
        status_max_age_seconds=status_max_age,
        status_unknown=status_unknown,
        retention_days=retention_days,
    )


def load_policy(path: Path | str) -> Policy:
    """Load and validate one policy file (its name must match ``name``)."""
    path = Path(path)
    try:
        with path.open("rb") as fp:
            data = tomllib.load(fp)
    except OSError as exc:
        raise PolicyError(f"cannot read: {exc.strerror or exc}", file=path.name) from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"not valid TOML: {exc}", file=path.name) from exc
    return _parse(data, path.name, path.stem)


_cache: dict[Path, tuple[tuple[tuple[str, int, int], ...], Mapping[str, Policy]]] = {}
_cache_lock = Lock()


def _snapshot(directory: Path) -> tuple[tuple[str, int, int], ...]:
    entries = []
    for p in sorted(directory.glob("*.toml")):
        st = p.stat()
        entries.append((p.name, st.st_mtime_ns, st.st_size))
    return tuple(entries)


def load_policies(directory: Path | str | None = None) -> Mapping[str, Policy]:
    """All policies of a directory (default: the packaged one), by name.

    The result is read-only and cached per directory; the cache is refreshed
    when a file of the directory is added, removed or changed.  The packaged
    directory must hold exactly the six :data:`SCENARIOS`.
    """
    packaged = directory is None
    root = POLICIES_DIR if directory is None else Path(directory)
    try:
        root = root.resolve(strict=True)
    except OSError as exc:
        raise PolicyError(f"policies directory {str(root)!r} does not exist") from exc
    if not root.is_dir():
        raise PolicyError(f"{str(root)!r} is not a directory")
    snap = _snapshot(root)
    with _cache_lock:
        hit = _cache.get(root)
        if hit is not None and hit[0] == snap:
            return hit[1]
    loaded: dict[str, Policy] = {}
    for name, _, _ in snap:
        policy = load_policy(root / name)
        loaded[policy.name] = policy
    if packaged or root == POLICIES_DIR:
        missing = [s for s in SCENARIOS if s not in loaded]
        extra = sorted(set(loaded) - set(SCENARIOS))
        if missing or extra:
            raise PolicyError(
                f"packaged policies must be exactly {list(SCENARIOS)}; "
                f"missing {missing}, unexpected {extra}"
            )
    order = [s for s in SCENARIOS if s in loaded] + sorted(set(loaded) - set(SCENARIOS))
    result: Mapping[str, Policy] = MappingProxyType({n: loaded[n] for n in order})
    with _cache_lock:
        _cache[root] = (snap, result)
    return result


def get_policy(name: str) -> Policy:
    """The packaged policy ``name``; :class:`UnknownPolicyError` if none."""
    policies = load_policies()
    try:
        return policies[name]
    except (KeyError, TypeError):
        raise UnknownPolicyError(
            f"unknown scenario {name!r}; known: {', '.join(policies)}", key="name"
        ) from None

