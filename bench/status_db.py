"""Building the status lists from the issuer's records at city scale.

    .venv/bin/python bench/issue.py 100000 --database instance/bench/issue.db     # fills it
    .venv/bin/python bench/status_db.py --database instance/bench/issue.db [--database postgresql://...] [--revoke 1000]

On a database that ``bench/issue.py`` filled (its licences, its status lists and their
entries, the service's schema brought to the Alembic head), revokes ``--revoke`` licences
picked at random and, for each status list, times what ``issuer.records.status_list_token``
does for a ``GET /status/<id>.jws``, a desk's status refresh or the revoke request itself:

* finding the list's entries that are not valid (``issuer.records._entries``: the list's
  own status marks), with the same entries found the two ways it was done before beside it
  (from every licence of the city that is not valid; from every entry of the list);
* after a change: found, compressed with zlib, signed and stored for every worker;
* the same with zopfli (``certfree status publish``; how the service compressed before);
* a token already stored, served to another worker;
* a token that aged past its re-sign interval, signed again around the stored bit array.

The revocations and the tokens stored are rolled back at the end: the database is left as
it was.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import time
from pathlib import Path
from typing import Callable, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select, text, update  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from issue import database_url, open_database  # noqa: E402  (bench/issue.py: the schema at the head)
from issuer.db import LicenceRecord, StatusEntry, StatusList  # noqa: E402
from issuer.records import _entries, set_status, status_list_token  # noqa: E402
from issuer.status_list import LIST_TTL, STATE_VALUES  # noqa: E402
from keys import KeyDir  # noqa: E402

T = TypeVar("T")

# What _entries ran before the status marks: from every licence of the city that is not
# valid (the partial index) to their entries in the list ...
FROM_LICENCES = text(
    "SELECT se.idx, l.state FROM licences l CROSS JOIN status_entries se"
    " WHERE l.state != 'valid' AND se.licence_id = l.id AND se.list_id = :list_id ORDER BY se.idx"
)
# ... and before the partial index: from every entry of the list to its licence.
FROM_ENTRIES = text(
    "SELECT se.idx, l.state FROM status_entries se JOIN licences l ON se.licence_id = l.id"
    " WHERE se.list_id = :list_id AND l.state != 'valid' ORDER BY se.idx"
)


def best(repeats: int, run: Callable[[], T]) -> tuple[float, T]:
    """The least time of ``repeats`` calls, and the last call's result."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return min(times), result


def _after_a_change(session: Session, keys: KeyDir, list_id: str, now: int) -> float:
    """The time the first reader after a change of state takes (the revoke request's own)."""
    session.execute(update(StatusList).where(StatusList.id == list_id).values(revision=StatusList.revision + 1))
    started = time.perf_counter()
    status_list_token(session, keys, list_id, now=now)
    return time.perf_counter() - started


def bench(url: str, keys_dir: Path, revoke: int, repeats: int) -> None:
    engine = open_database(url, fresh=False)  # brought to the Alembic head (the partial index)
    keys = KeyDir(keys_dir)
    with Session(engine) as session:
        licences = session.scalar(select(func.count()).select_from(LicenceRecord)) or 0
        if licences < revoke:
            raise SystemExit(f"{url}: {licences} licences; fill it with bench/issue.py first")
        ids = list(session.scalars(select(LicenceRecord.id)))
        chosen = random.Random(20261207).sample(ids, revoke)
        for licence_id in chosen:
            set_status(session, licence_id, "revoked", reason="bench")  # the licence, its marks, its lists' revisions
        session.flush()
        lists = session.execute(select(StatusList.id, func.count(StatusEntry.id)).join(StatusEntry)
                                .group_by(StatusList.id).order_by(func.count(StatusEntry.id).desc())).all()
        print(f"{engine.dialect.name}: {licences:,} licences, {revoke:,} revoked (uncommitted), "
              f"{len(lists)} lists; best of {repeats}")
        now = int(time.time())
        for list_id, size in lists:
            now_t, found = best(repeats, lambda: _entries(session, list_id))
            licences_t, by_licences = best(repeats, lambda: session.execute(FROM_LICENCES, {"list_id": list_id}).all())
            before_t, before = best(1 if size > 100_000 else repeats,
                                    lambda: session.execute(FROM_ENTRIES, {"list_id": list_id}).all())
            assert found == [(i, STATE_VALUES[s]) for i, s in before] == [(i, STATE_VALUES[s]) for i, s in by_licences]
            best_t, _ = best(1, lambda: status_list_token(session, keys, list_id, now=now, best=True))
            changed_t = min(_after_a_change(session, keys, list_id, now) for _ in range(repeats))
            served_t, token = best(repeats, lambda: status_list_token(session, keys, list_id, now=now))
            aged_t, _ = best(1, lambda: status_list_token(session, keys, list_id, now=now + LIST_TTL))
            print(f"  list {list_id}: {size:>9,} entries, {len(found):>6,} not valid: found from its marks in "
                  f"{now_t * 1000:7.2f} ms; from the licences not valid {licences_t * 1000:8.2f} ms, "
                  f"from every entry {before_t * 1000:9.1f} ms")
            print(f"    after a change: found + compressed (zlib) + signed + stored {changed_t * 1000:8.1f} ms, "
                  f"{len(token or ''):,} characters; with zopfli {best_t * 1000:8.1f} ms")
            print(f"    stored token served {served_t * 1000:6.2f} ms; aged token signed again {aged_t * 1000:6.2f} ms")
        session.rollback()
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database", action="append", required=True, help="a SQLite path or a URL; repeat for several")
    ap.add_argument("--keys", type=Path, default=Path("instance/bench/keys"), help="the keys bench/issue.py signed with")
    ap.add_argument("--revoke", type=int, default=1000, help="licences revoked for the measurement")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    logging.getLogger("certfree").setLevel(logging.ERROR)  # the bench keys' --insecure-dev warning
    for url in args.database:
        bench(database_url(url), args.keys, args.revoke, args.repeats)


if __name__ == "__main__":
    main()
