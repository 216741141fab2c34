"""`crmbot backup` and `crmbot restore`: a populated database and photo store round-trip
table by table and file by file; a backup that is not whole, or a target that is not empty,
is refused and changes nothing. The nightly backup rule makes one a day, every day, and
keeps the newest few of its own folders."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bootstrap.nightly_backup import NightlyBackup
from core.config import BackupConfig, CalendarConfig, RemindersConfig
from core.inbox.reminders import BACKUP, ReminderService, work_calendar
from storage.backup import MANIFEST, BackupError, Manifest, backup, restore
from storage.database import Database
from storage.photos import PhotoStore
from storage.tables import Base
from tests.conftest import EXAMPLE_ORG, PG_URL
from tests.days import notification_rows
from tests.example_org import DEFAULTS, shanghai
from tests.pictures import jpeg, scene
from tests.service.test_cli import crmbot, dump, write_config


def url_of(database: Database) -> str:
    return database.engine.url.render_as_string(hide_password=False)


async def rows(database: Database) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order."""
    found = {}
    async with database.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            result = await connection.execute(
                select(table).order_by(*table.primary_key.columns))
            found[table.name] = [tuple(row) for row in result]
    return found


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def photos(tmp_path) -> Path:
    store = PhotoStore(tmp_path / "photos")
    for seed in range(3):
        store.save(jpeg(scene(seed)))
    return tmp_path / "photos"


@pytest.fixture
async def empty_target(org, tmp_path):
    """An empty database on the backend of the test's database."""
    if org.is_sqlite:
        target = Database.connect(f"sqlite+aiosqlite:///{tmp_path}/restored.db")
        yield target
        await target.dispose()
        return
    name = f"{make_url(PG_URL).database}_restore"
    admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    target = Database.connect(make_url(PG_URL).set(database=name).render_as_string(
        hide_password=False))
    yield target
    await target.dispose()
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


async def test_a_populated_database_and_its_photos_round_trip(org, photos, empty_target,
                                                              tmp_path, clock):
    folder = tmp_path / "backup"
    manifest = await backup(url_of(org), photos, folder, clock.now())

    before = await rows(org)
    assert manifest.tables == {name: len(found) for name, found in before.items()}
    assert manifest.tables["members"] > 0 and manifest.photos == len(files(photos)) > 0
    assert manifest.made_at == clock.now().isoformat()
    written = json.loads((folder / MANIFEST).read_text())
    assert written["tables"] == manifest.tables and written["revision"] == manifest.revision

    restored_photos = tmp_path / "restored-photos"
    await restore(folder, url_of(empty_target), restored_photos)
    assert await rows(empty_target) == before
    assert files(restored_photos) == files(photos)


async def test_restoring_into_a_database_that_is_not_empty_is_refused(org, photos, tmp_path,
                                                                      clock):
    folder = tmp_path / "backup"
    await backup(url_of(org), photos, folder, clock.now())
    before = await rows(org)
    with pytest.raises(BackupError, match="the database is not empty"):
        await restore(folder, url_of(org), tmp_path / "restored-photos")
    assert await rows(org) == before
    assert not (tmp_path / "restored-photos").exists()


async def test_a_changed_file_in_the_backup_is_refused_before_anything_is_written(
        org, photos, empty_target, tmp_path, clock):
    folder = tmp_path / "backup"
    manifest = await backup(url_of(org), photos, folder, clock.now())
    photo = folder / next(name for name in manifest.files if name.startswith("photos/"))
    photo.write_bytes(photo.read_bytes()[:-1] + b"\0")
    with pytest.raises(BackupError, match="checksum differs"):
        await restore(folder, url_of(empty_target), tmp_path / "restored-photos")
    async with empty_target.engine.connect() as connection:
        assert not await connection.run_sync(
            lambda sync: sync.dialect.get_table_names(sync))
    assert not (tmp_path / "restored-photos").exists()


async def test_a_missing_file_or_manifest_is_refused(org, photos, empty_target, tmp_path,
                                                     clock):
    with pytest.raises(BackupError, match="not a crmbot backup"):
        await restore(tmp_path, url_of(empty_target), tmp_path / "restored-photos")
    folder = tmp_path / "backup"
    manifest = await backup(url_of(org), photos, folder, clock.now())
    (folder / next(iter(manifest.files))).unlink()
    with pytest.raises(BackupError, match="missing from the backup"):
        await restore(folder, url_of(empty_target), tmp_path / "restored-photos")


async def test_a_backup_goes_only_into_a_new_or_empty_folder(org, photos, tmp_path, clock):
    folder = tmp_path / "backup"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(BackupError, match="must be an empty folder"):
        await backup(url_of(org), photos, folder, clock.now())
    assert files(folder) == {"notes.txt": b"keep me"}


async def test_a_restore_into_a_photo_folder_that_is_not_empty_is_refused(
        org, photos, empty_target, tmp_path, clock):
    folder = tmp_path / "backup"
    await backup(url_of(org), photos, folder, clock.now())
    with pytest.raises(BackupError, match="photo folder must be an empty folder"):
        await restore(folder, url_of(empty_target), photos)
    async with empty_target.engine.connect() as connection:
        assert not await connection.run_sync(
            lambda sync: sync.dialect.get_table_names(sync))


async def test_a_backup_restores_only_into_the_backend_it_came_from(org, photos, tmp_path,
                                                                    clock):
    folder = tmp_path / "backup"
    manifest = await backup(url_of(org), photos, folder, clock.now())
    other = ("postgresql+asyncpg://postgres@127.0.0.1:1/elsewhere" if org.is_sqlite
             else f"sqlite+aiosqlite:///{tmp_path}/elsewhere.db")
    with pytest.raises(BackupError, match=f"holds a {manifest.backend} backup"):
        await restore(folder, other, tmp_path / "restored-photos")
    assert not (tmp_path / "elsewhere.db").exists()
    assert not (tmp_path / "restored-photos").exists()


def test_the_commands_back_up_and_restore_and_refuse_in_one_line(tmp_path):
    config = write_config(tmp_path)
    with config.open("a") as handle:
        handle.write(f'[storage]\nphotos_dir = "{tmp_path}/photos"\n')
    assert crmbot("--config", str(config), "org", "import", str(EXAMPLE_ORG),
                  cwd=tmp_path).returncode == 0
    PhotoStore(tmp_path / "photos").save(jpeg(scene(7)))
    saved = crmbot("--config", str(config), "backup", str(tmp_path / "backup"), cwd=tmp_path)
    assert saved.returncode == 0, saved.stderr
    assert saved.stdout.startswith("backed up ") and "and 2 photos to" in saved.stdout

    again = crmbot("--config", str(config), "restore", str(tmp_path / "backup"), cwd=tmp_path)
    assert again.returncode == 2
    assert again.stderr.strip() == (f"crmbot: {tmp_path}/photos: the photo folder must be an "
                                    "empty folder or not exist yet")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    moved = write_config(elsewhere)
    restored = crmbot("--config", str(moved), "restore", str(tmp_path / "backup"),
                      cwd=elsewhere)
    assert restored.returncode == 0, restored.stderr
    assert "photos from the backup of" in restored.stdout
    assert dump(elsewhere / "crm.db") == dump(tmp_path / "crm.db")
    assert files(elsewhere / "data" / "photos") == files(tmp_path / "photos")



# The nightly rule (the team's clock is Asia/Shanghai: its 02:00 is 18:00 UTC the day before)


def nightly(database: Database, clock, folder: Path, photos: Path, *, enabled: bool = True,
            keep: int = 7, calendar: CalendarConfig | None = None,
            url: str | None = None) -> ReminderService:
    """The reminder service with the backup rule wired as bootstrap wires it."""
    config = RemindersConfig(backup=BackupConfig(enabled=enabled, folder=folder, keep=keep))
    made_by = NightlyBackup(url or url_of(database), photos, folder, keep)
    return ReminderService(database.uow, clock, DEFAULTS, config,
                           work_calendar(calendar or CalendarConfig()), backup=made_by)


def listing(folder: Path) -> list[str]:
    """What the backup folder holds, folders marked with a slash."""
    return sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())


async def test_at_its_time_the_rule_backs_up_every_row_and_photo(org, photos, empty_target,
                                                                 tmp_path, clock):
    service = nightly(org, clock, tmp_path / "backups", photos)
    await service.sync_rules()
    assert await service.run_due(shanghai(26, 1, 59)) == {}
    assert await service.run_due(shanghai(26, 2)) == {BACKUP: 0}

    assert listing(tmp_path / "backups") == ["crm-20261125-1800/"]
    folder = tmp_path / "backups" / "crm-20261125-1800"
    manifest = Manifest.read(folder)
    before = await rows(org)
    assert manifest.tables == {name: len(found) for name, found in before.items()}
    assert manifest.tables["members"] > 0 and manifest.photos == len(files(photos)) > 0
    assert manifest.made_at == shanghai(26, 2).isoformat()
    assert await notification_rows(org) == []

    await restore(folder, url_of(empty_target), tmp_path / "restored-photos")
    assert await rows(empty_target) == before
    assert files(tmp_path / "restored-photos") == files(photos)


async def test_the_rule_backs_up_once_a_day_however_often_it_is_asked(org, photos, tmp_path,
                                                                      clock):
    service = nightly(org, clock, tmp_path / "backups", photos)
    await service.sync_rules()
    assert await service.run_due(shanghai(26, 2)) == {BACKUP: 0}
    assert await service.run_due(shanghai(26, 2, 1)) == {}
    assert await service.run(BACKUP, shanghai(26, 9)) == 0
    # Another process asking at the same time as this one: one of them makes it.
    other = Database.connect(url_of(org))
    try:
        await asyncio.gather(
            service.run(BACKUP, shanghai(27, 2)),
            nightly(other, clock, tmp_path / "backups", photos).run(BACKUP, shanghai(27, 2, 1)))
    finally:
        await other.dispose()
    first, *second = listing(tmp_path / "backups")
    assert first == "crm-20261125-1800/"
    assert second in (["crm-20261126-1800/"], ["crm-20261126-1801/"])


async def test_only_the_newest_backups_are_kept_and_nothing_else_is_touched(org, photos,
                                                                            tmp_path, clock):
    folder = tmp_path / "backups"
    (folder / "crm-20261101-1800").mkdir(parents=True)
    (folder / "crm-20261101-1800" / "manifest.json").write_text("{}")
    (folder / "crm-weekly").mkdir()
    (folder / "crm-20261102-1800.tar").write_text("an archive someone made")
    (folder / "notes.txt").write_text("keep me")
    service = nightly(org, clock, folder, photos, keep=2)
    await service.sync_rules()
    for day in (26, 27, 28):
        assert await service.run_due(shanghai(day, 2, 30)) == {BACKUP: 0}
    assert listing(folder) == ["crm-20261102-1800.tar", "crm-20261126-1830/",
                               "crm-20261127-1830/", "crm-weekly/", "notes.txt"]
    assert (folder / "notes.txt").read_text() == "keep me"


async def test_a_disabled_rule_makes_no_backup(org, photos, tmp_path, clock):
    service = nightly(org, clock, tmp_path / "backups", photos, enabled=False)
    await service.sync_rules()
    assert await service.run_due(shanghai(26, 2)) == {}
    assert not (tmp_path / "backups").exists()


async def test_the_rule_runs_on_a_sunday_and_a_holiday(org, photos, tmp_path, clock):
    holiday = CalendarConfig(holidays=[date(2026, 11, 27)])
    service = nightly(org, clock, tmp_path / "backups", photos, calendar=holiday)
    await service.sync_rules()
    assert await service.run_due(shanghai(27, 2)) == {BACKUP: 0}  # the holiday
    assert await service.run_due(shanghai(29, 2, 10)) == {BACKUP: 0}  # Sunday
    assert listing(tmp_path / "backups") == ["crm-20261126-1800/", "crm-20261128-1810/"]


async def test_a_missed_backup_is_caught_up_within_the_window_only(org, photos, tmp_path,
                                                                   clock):
    service = nightly(org, clock, tmp_path / "backups", photos)
    await service.sync_rules()
    assert await service.run_due(shanghai(26, 4, 1)) == {}  # 121 minutes late
    assert await service.run_due(shanghai(27, 3, 59)) == {BACKUP: 0}
    assert listing(tmp_path / "backups") == ["crm-20261126-1959/"]


async def test_a_failed_backup_is_logged_leaves_no_half_folder_and_runs_the_next_day(
        org, photos, tmp_path, clock, caplog):
    folder = tmp_path / "backups"
    gone = f"sqlite+aiosqlite:///{tmp_path}/gone.db"
    service = nightly(org, clock, folder, photos, url=gone)
    await service.sync_rules()
    with caplog.at_level(logging.ERROR, logger="core.inbox.reminders"):
        assert await service.run_due(shanghai(26, 2)) == {BACKUP: 0}
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        f"backup failed: {tmp_path}/gone.db: no such database file"]
    assert listing(folder) == []
    assert NightlyBackup(gone, photos, folder, 7).outcome(shanghai(26, 2)) == (
        f"no backup in {folder}/crm-20261125-1800 (the log says why)")
    assert await service.run_due(shanghai(26, 2, 1)) == {}
    assert await notification_rows(org) == []

    working = nightly(org, clock, folder, photos)
    assert await working.run_due(shanghai(27, 2)) == {BACKUP: 0}
    assert listing(folder) == ["crm-20261126-1800/"]
