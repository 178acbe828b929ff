"""Setting up desks and binding clerks to them (the CLI's work; the pages only read).

The functions take a ``session``; the caller owns the transaction."""

from __future__ import annotations

import datetime as dt
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.service.models import DeskClerk
from scenarios import SCENARIOS, load_matters

from .models import MAX_DESK_NAME, Desk, DeskMembership


class DeskError(ValueError):
    """A desk cannot be set up as asked: ``code`` is stable, the message in both languages."""

    def __init__(self, code: str, message: str, message_zh: str) -> None:
        super().__init__(f"{code}: {message_zh} / {message}")
        self.code = code
        self.message = message
        self.message_zh = message_zh


def add_desk(session: Session, name: str, scenarios: Iterable[str], matters: Iterable[str] = (), *, now: float) -> Desk:
    """A new desk at its place: ``scenarios`` it may verify, ``matters`` (a window only;
    none: every matter)."""
    name = name.strip()
    wanted, only = list(dict.fromkeys(scenarios)), list(dict.fromkeys(matters))
    if not name or len(name) > MAX_DESK_NAME:
        raise DeskError("bad_desk_name", f"a desk name has 1 to {MAX_DESK_NAME} characters", f"核验台名称须为1至{MAX_DESK_NAME}个字符")
    if not wanted:
        raise DeskError("no_scenario", "name at least one scenario", "请至少指定一个核验场景")
    for scenario in wanted:
        if scenario not in SCENARIOS:
            raise DeskError("unknown_scenario", f"unknown scenario {scenario!r}", f"未知的核验场景“{scenario}”")
    known = load_matters()
    for matter in only:
        if matter not in known:
            raise DeskError("unknown_matter", f"unknown matter {matter!r}", f"未知的办理事项“{matter}”")
    if only and "window" not in wanted:
        raise DeskError("matters_need_window", "matters are for a window desk (scenario window)", "办理事项仅适用于政务服务窗口")
    if find_desk(session, name) is not None:
        raise DeskError("desk_exists", f"a desk named {name!r} already exists", f"核验台“{name}”已存在")
    desk = Desk(name=name, scenarios=wanted, matters=only, created_at=dt.datetime.fromtimestamp(now, dt.timezone.utc))
    session.add(desk)
    session.flush()
    return desk


def find_desk(session: Session, name: str) -> Desk | None:
    return session.scalar(select(Desk).where(Desk.name == name.strip()))


def assign(session: Session, clerk: DeskClerk, desk: Desk) -> None:
    """The clerk works at ``desk`` from now on (a clerk belongs to one desk)."""
    membership = session.get(DeskMembership, clerk.id)
    if membership is None:
        session.add(DeskMembership(clerk_id=clerk.id, desk_id=desk.id))
    else:
        membership.desk_id = desk.id
    session.flush()


def desk_of(session: Session, clerk_id: str) -> Desk | None:
    """The clerk's desk, or None for a clerk not bound to any desk (who may verify nothing)."""
    return session.scalar(select(Desk).join(DeskMembership, DeskMembership.desk_id == Desk.id)
                          .where(DeskMembership.clerk_id == clerk_id))


def desks(session: Session) -> list[Desk]:
    return list(session.scalars(select(Desk).order_by(Desk.name)))


__all__ = ["DeskError", "add_desk", "find_desk", "assign", "desk_of", "desks"]
