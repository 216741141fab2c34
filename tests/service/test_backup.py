"""`crmbot backup` and `crmbot restore`: a populated database and photo store round-trip
table by table and file by file; a backup that is not whole, or a target that is not empty,
is refused and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from storage.backup import MANIFEST, BackupError, backup, restore
from storage.database import Database
from storage.photos import PhotoStore
from storage.tables import Base
from tests.conftest import EXAMPLE_ORG, PG_URL
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
