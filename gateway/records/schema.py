"""The records database's schema, and the steps that bring an older file up to date.

The schema's version is SQLite's ``PRAGMA user_version``. Each step takes the file from one
version to the next inside one transaction, so a start-up that dies half way leaves the file at
the last whole version. A new version is one function appended to ``MIGRATIONS``.

Each turn's whole record is kept as JSON beside the columns the reader sorts and sums on, so a
field added to the turn record later (a reply's tool runs) is kept without a new version.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path


class RecordsError(RuntimeError):
    """The records file cannot be used: missing, unreadable, or written by a newer voicegw."""


def _v1_calls_and_turns(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE calls (
            id INTEGER PRIMARY KEY,
            call_sid TEXT NOT NULL,
            stream_sid TEXT NOT NULL DEFAULT '',
            from_number TEXT NOT NULL DEFAULT '',
            to_number TEXT NOT NULL DEFAULT '',
            started_at REAL NOT NULL,
            ended_at REAL,
            end_reason TEXT NOT NULL DEFAULT ''
        )"""
    )
    db.execute("CREATE INDEX calls_by_sid ON calls (call_sid)")
    db.execute("CREATE INDEX calls_by_start ON calls (started_at)")
    db.execute(
        """CREATE TABLE turns (
            id INTEGER PRIMARY KEY,
            call_id INTEGER REFERENCES calls (id) ON DELETE CASCADE,
            call_sid TEXT NOT NULL,
            turn INTEGER NOT NULL,
            speech_end_at REAL,
            outcome TEXT NOT NULL,
            voice_to_voice_ms INTEGER,
            record TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX turns_by_call ON turns (call_id, turn)")


def _v2_language_and_answer(db: sqlite3.Connection) -> None:
    """The call's language, and each turn's time to the answer itself (after any filler),
    filled in for the turns already kept from their JSON record."""
    db.execute("ALTER TABLE calls ADD COLUMN language TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE turns ADD COLUMN answer_ms INTEGER")
    db.execute(
        "UPDATE turns SET answer_ms = json_extract(record, '$.offsets_ms.first_answer_media')"
    )


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _v1_calls_and_turns,
    _v2_language_and_answer,
)
"""Step ``n`` takes the file from version ``n`` to ``n + 1``."""
SCHEMA_VERSION = len(MIGRATIONS)


def version_of(db: sqlite3.Connection) -> int:
    row = db.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(db: sqlite3.Connection, to_version: int = SCHEMA_VERSION) -> int:
    """Bring the file up to ``to_version`` (the current one unless a test asks for an older),
    one transaction per step; returns the version it was at. ``db`` must be in autocommit mode
    (``isolation_level=None``) so each step's DDL is inside its own transaction."""
    found = version_of(db)
    if found > SCHEMA_VERSION:
        raise RecordsError(
            f"records schema version {found} is newer than this voicegw's ({SCHEMA_VERSION})"
        )
    for number in range(found, to_version):
        db.execute("BEGIN IMMEDIATE")  # another process starting at once waits, then sees it
        try:
            if version_of(db) == number:
                MIGRATIONS[number](db)
                db.execute(f"PRAGMA user_version = {number + 1}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return found


def connect(path: Path, *, busy_timeout_ms: int = 5000) -> sqlite3.Connection:
    """Open (creating it and its directory) and migrate the records file, in WAL mode: the
    reader never blocks the writer, and a write is one append."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout_ms / 1000)
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")  # WAL: a power cut may lose the last batch
        db.execute("PRAGMA foreign_keys = ON")
        migrate(db)
    except BaseException:
        db.close()
        raise
    return db
