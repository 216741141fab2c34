"""The backup rule's work: storage's backup into a new dated folder, and the oldest of the
rule's folders removed."""

from __future__ import annotations

import asyncio
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

from core.inbox.reminders import BackupFailed
from storage.backup import BackupError, Manifest, backup

# Named in UTC, so that the names sort as the backups were made, across clock changes.
_RULES_FOLDER = re.compile(r"crm-\d{8}-\d{4}")


def folder_name(at: datetime) -> str:
    """The folder a run at `at` writes: crm-YYYYMMDD-HHMM, in UTC."""
    return f"crm-{at.astimezone(UTC):%Y%m%d-%H%M}"


class NightlyBackup:
    """Backs up the database and the photos into `folder`, keeping the newest `keep` of the
    folders it made there; nothing else in `folder` is touched."""

    def __init__(self, url: str, photos: Path, folder: Path, keep: int) -> None:
        self.url = url
        self.photos = photos
        self.folder = folder
        self.keep = keep

    async def __call__(self, at: datetime) -> str:
        """Make the backup of `at`; what was made, in one line. BackupFailed when it cannot."""
        target = self.folder / folder_name(at)
        existed = await asyncio.to_thread(target.exists)
        try:
            manifest = await backup(self.url, self.photos, target, at)
        except (BackupError, OSError) as error:
            # Half a backup is no backup: it must not count among the ones kept.
            if not existed:
                await asyncio.to_thread(shutil.rmtree, target, ignore_errors=True)
            raise BackupFailed(str(error)) from error
        try:
            removed = await asyncio.to_thread(self._prune, target.name)
        except OSError as error:
            raise BackupFailed(f"made {target}, but an older backup could not be removed: "
                               f"{error}") from error
        made = f"made {target} ({manifest.contents})"
        return made + (f", removed {removed} older" if removed else "")

    def _prune(self, made: str) -> int:
        """Remove the rule's folders older than `made` but for the newest `keep` - 1."""
        older = sorted(path for path in self.folder.iterdir()
                       if _RULES_FOLDER.fullmatch(path.name) and path.name < made
                       and path.is_dir() and not path.is_symlink())
        stale = older[:max(len(older) - (self.keep - 1), 0)]
        for path in stale:
            shutil.rmtree(path)
        return len(stale)

    def outcome(self, at: datetime) -> str:
        """What the run started at `at` left in the folder, in one line."""
        target = self.folder / folder_name(at)
        try:
            manifest = Manifest.read(target)
        except (BackupError, OSError):
            if target.is_dir():
                return f"{target}: not finished (still running, or stopped part way)"
            return f"no backup in {target} (the log says why)"
        return f"made {target} ({manifest.contents})"
