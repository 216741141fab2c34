"""A consistent copy of the database and the photo store, and putting it back.

A backup folder holds the database (SQLite: a copy made by SQLite's online backup API;
PostgreSQL: `pg_dump`'s custom format, taken in a snapshot exported by a transaction that
also counts the rows), the photos as they are stored, and `manifest.json`: when, from which
backend and schema revision, how many rows each table holds, and a SHA-256 of every file.

A restore checks every checksum first, goes only into an empty database and an empty photo
folder, and compares the rows it restored with the manifest's counts.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, func, inspect, select, text
from sqlalchemy.engine import make_url

from storage.database import create_engine
from storage.migrate import revision_of
from storage.tables import Base

MANIFEST = "manifest.json"
PHOTOS = "photos"
FILES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
FORMAT = 1


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why, in one line."""


@dataclass(frozen=True)
class Manifest:
    made_at: str
    backend: str
    revision: str | None
    tables: dict[str, int]
    files: dict[str, str]  # path in the folder -> SHA-256

    @property
    def photos(self) -> int:
        return sum(1 for name in self.files if name.startswith(PHOTOS + "/"))

    @property
    def contents(self) -> str:
        return (f"{sum(self.tables.values()):,} rows in {len(self.tables)} tables and "
                f"{self.photos:,} photos")

    def write(self, folder: Path) -> None:
        body = {"format": FORMAT, "made_at": self.made_at, "backend": self.backend,
                "revision": self.revision, "tables": self.tables, "files": self.files}
        (folder / MANIFEST).write_text(json.dumps(body, indent=1, sort_keys=True) + "\n")

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        try:
            body = json.loads((folder / MANIFEST).read_text())
        except FileNotFoundError:
            raise BackupError(f"{folder}: no {MANIFEST}: not a crmbot backup") from None
        except (ValueError, UnicodeDecodeError):
            raise BackupError(f"{folder / MANIFEST}: not valid JSON") from None
        if not isinstance(body, dict) or body.get("format") != FORMAT:
            raise BackupError(f"{folder / MANIFEST}: not a backup this version can read")
        try:
            return cls(str(body["made_at"]), str(body["backend"]), body["revision"],
                       {str(k): int(v) for k, v in body["tables"].items()},
                       {str(k): str(v) for k, v in body["files"].items()})
        except (KeyError, TypeError, ValueError, AttributeError):
            raise BackupError(f"{folder / MANIFEST}: incomplete") from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _backend(url: str) -> str:
    return make_url(url).get_backend_name()


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(f"{url}: an in-memory database cannot be backed up or restored")
    return Path(database)


def _libpq(url: str) -> str:
    """The URL as pg_dump and pg_restore take it (no SQLAlchemy driver name), without its
    password, which `_run` passes in the environment rather than on a command line that
    every user of the machine can read."""
    return make_url(url).set(drivername="postgresql", password=None).render_as_string()


def _facts(connection: Connection) -> tuple[dict[str, int], str | None]:
    """Rows per table and the schema revision, as the connection's transaction sees them."""
    counts = {table.name: connection.execute(
        select(func.count()).select_from(table)).scalar_one()
        for table in Base.metadata.sorted_tables}
    return counts, revision_of(connection)


async def _facts_of(url: str) -> tuple[dict[str, int], str | None]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_facts)
    finally:
        await engine.dispose()


def _empty_folder(path: Path, what: str) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BackupError(f"{path}: the {what} must be an empty folder or not exist yet")


def _copy_photos(source: Path, target: Path) -> dict[str, str]:
    """Every file under `source` copied to `target`, by its path below it."""
    files = {}
    if source.is_dir():
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            relative = path.relative_to(source)
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / relative)
            files[f"{PHOTOS}/{relative.as_posix()}"] = _sha256(target / relative)
    return files


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _sqlite_copy(source: Path, target: Path) -> None:
    """Copy the database at `source` page by page, as one read transaction sees it (readers
    and writers may go on)."""
    if not source.is_file():
        raise BackupError(f"{source}: no such database file")
    with closing(_read_only(source)) as live, closing(sqlite3.connect(target)) as copy:
        live.backup(copy)


async def _postgres_backup(url: str, target: Path) -> tuple[dict[str, int], str | None]:
    """pg_dump in a snapshot exported by a transaction that counts the rows in it."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="REPEATABLE READ")
            async with connection.begin():
                snapshot = (await connection.execute(
                    text("SELECT pg_export_snapshot()"))).scalar_one()
                facts = await connection.run_sync(_facts)
                await _run(url, "pg_dump", "--format=custom", "--no-owner", "--no-privileges",
                           f"--snapshot={snapshot}", f"--file={target}",
                           f"--dbname={_libpq(url)}")
    finally:
        await engine.dispose()
    return facts


async def _run(url: str, *command: str) -> None:
    """A PostgreSQL client program against the server at `url`."""
    password = make_url(url).password
    environment = os.environ | ({"PGPASSWORD": str(password)} if password else {})
    try:
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=environment)
    except FileNotFoundError:
        raise BackupError(f"{command[0]} not found: install PostgreSQL's client "
                          "programs (Debian: postgresql-client)") from None
    _, errors = await process.communicate()
    if process.returncode:
        said = errors.decode(errors="replace").strip().splitlines()
        raise BackupError(f"{command[0]} failed: {said[-1] if said else process.returncode}")


async def backup(url: str, photos: Path, folder: Path, made_at: datetime) -> Manifest:
    """Write a backup of the database at `url` and the photo store into `folder`."""
    _empty_folder(folder, "backup folder")
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    backend = _backend(url)
    target = folder / FILES[backend]
    if backend == "sqlite":
        await asyncio.to_thread(_sqlite_copy, _sqlite_path(url), target)
        # Counted in the copy, which is the snapshot.
        counts, revision = await _facts_of(f"sqlite+aiosqlite:///{target}")
    else:
        counts, revision = await _postgres_backup(url, target)
    files = {target.name: await asyncio.to_thread(_sha256, target)}
    # After the database: every photo a row names was stored before its row was committed.
    files |= await asyncio.to_thread(_copy_photos, photos, folder / PHOTOS)
    manifest = Manifest(made_at.isoformat(), backend, revision, counts, files)
    manifest.write(folder)
    return manifest


def _verify(folder: Path, manifest: Manifest) -> None:
    for name, digest in manifest.files.items():
        path = folder / name
        if not path.is_file():
            raise BackupError(f"{path}: missing from the backup")
        if _sha256(path) != digest:
            raise BackupError(f"{path}: its checksum differs from the manifest's")


def _has_tables(connection: Connection) -> bool:
    return bool(inspect(connection).get_table_names())


async def _refuse_unless_empty(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            if await connection.run_sync(_has_tables):
                raise BackupError(f"{make_url(url).render_as_string()}: the database is not "
                                  "empty: restore into a new one")
    finally:
        await engine.dispose()


def _sqlite_restore(copy: Path, target: Path) -> None:
    with closing(_read_only(copy)) as source, closing(sqlite3.connect(target)) as restored:
        source.backup(restored)


async def restore(folder: Path, url: str, photos: Path) -> Manifest:
    """Put the backup in `folder` back into the empty database at `url` and the empty
    photo folder `photos`."""
    manifest = Manifest.read(folder)
    backend = _backend(url)
    if manifest.backend != backend:
        raise BackupError(f"{folder} holds a {manifest.backend} backup; the configured "
                          f"database is {backend}")
    _empty_folder(photos, "photo folder")
    await asyncio.to_thread(_verify, folder, manifest)
    dump = folder / FILES[backend]
    await _refuse_unless_empty(url)
    if backend == "sqlite":
        await asyncio.to_thread(_sqlite_restore, dump, _sqlite_path(url))
    else:
        await _run(url, "pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
                   "--single-transaction", f"--dbname={_libpq(url)}", str(dump))
    counts, _ = await _facts_of(url)
    differ = sorted(name for name, count in manifest.tables.items() if counts.get(name) != count)
    if differ:
        raise BackupError("restored rows differ from the manifest in " + ", ".join(differ))
    if (folder / PHOTOS).is_dir():
        await asyncio.to_thread(shutil.copytree, folder / PHOTOS, photos, dirs_exist_ok=True)
    return manifest
