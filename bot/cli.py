"""The `crmbot` command: run the bot, migrate, import the org, back up and restore, play
the demo."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from bootstrap.config import Config, load_config
from bootstrap.logs import configure_logging
from bot.org_file import parse_org_file
from core.config import ConfigError
from core.domain.org.org_file import OrgFileError

EXIT_USAGE = 2


async def upgrade_database(config: Config) -> None:
    from storage.migrate import current_revision, head_revision, upgrade

    before = await current_revision(config.database.url)
    if before != head_revision():
        await upgrade(config.database.url)
        logging.getLogger("crmbot").info("database upgraded from %s to %s",
                                         before or "empty", head_revision())


def read_config(args: argparse.Namespace) -> Config:
    """The config, its database remembered so that a database nobody can reach or open is
    told in one line, whichever step found out."""
    config = load_config(args.config)
    args.database_url = config.database.url
    return config


def cmd_run(args: argparse.Namespace) -> int:
    """Run the bot against Telegram (or any Bot API server in base_url): the active process,
    or a standby that takes over when the active one is gone (PostgreSQL)."""
    from bot.run import serve

    config = read_config(args)
    token = config.require_token()
    configure_logging(config)
    # An empty or older database is brought up to date first, in one transaction.
    asyncio.run(serve(config, token, lambda: upgrade_database(config)))
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    config = read_config(args)
    configure_logging(config)
    asyncio.run(upgrade_database(config))
    print("database is up to date")
    return 0


def read_org_file(path: Path) -> dict:
    # rtoml reads a company's file (a hundred thousand customers) several times faster than
    # tomllib, which stays the reader of the config.
    import rtoml

    try:
        return rtoml.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise OrgFileError(str(path), "file not found") from None
    except (IsADirectoryError, PermissionError) as error:
        raise OrgFileError(str(path), f"cannot be read ({error.strerror})") from None
    except UnicodeDecodeError:
        raise OrgFileError(str(path), "is not UTF-8 text") from None
    except rtoml.TomlParsingError as error:
        raise OrgFileError(str(path), f"not valid TOML ({error})") from None


class TerminalProgress:
    """A progress bar per phase of an import on stderr, only when stderr is a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.shown = self.stream.isatty()

    @contextmanager
    def phase(self, name: str, total: int) -> Iterator[Callable[[int], None]]:
        from tqdm import tqdm

        with tqdm(total=total, desc=f"{name:<20}", file=self.stream, disable=not self.shown,
                  unit_scale=True, dynamic_ncols=True) as bar:
            yield bar.update


async def import_org_file(config: Config, path: Path, progress: TerminalProgress | None = None):
    from bootstrap import build_services
    from core.ports import SystemClock
    from storage.database import Database

    progress = progress or TerminalProgress()
    with progress.phase("reading the file", 1) as advance:
        document = parse_org_file(read_org_file(path))
        advance(1)
    await upgrade_database(config)
    database = Database.connect(config.database.url)
    try:
        return await build_services(config, database, SystemClock()).org.import_org(
            document, progress)
    finally:
        await database.dispose()


def cmd_org_import(args: argparse.Namespace) -> int:
    config = read_config(args)
    configure_logging(config, floor=logging.WARNING)
    report = asyncio.run(import_org_file(config, Path(args.file)))
    sections = sorted(set(report.created) | set(report.updated) | set(report.unchanged))
    for section in sections:
        print(f"{section:12} created {report.created[section]:4}  "
              f"updated {report.updated[section]:4}  unchanged {report.unchanged[section]:4}")
    print("imported" if report.changed else "nothing to change")
    return 0


class UsageError(Exception):
    """A wrong argument: one line on stderr, exit code 2."""


async def _with_services(config: Config, use):
    """Bring the schema up to date, then call `use(services)` with the wall clock."""
    from bootstrap import build_services
    from core.ports import SystemClock
    from storage.database import Database

    await upgrade_database(config)
    database = Database.connect(config.database.url)
    try:
        return await use(build_services(config, database, SystemClock()))
    finally:
        await database.dispose()


def _local(moment, zone) -> str:
    return moment.astimezone(zone).strftime("%a %Y-%m-%d %H:%M")


async def list_jobs(services) -> list[str]:
    from core.inbox.reminders import APPROVAL_SLA, BACKUP, RULE_NAMES, SLA_INTERVAL, next_run

    order = {name: index for index, name in enumerate(RULE_NAMES)}
    rules = sorted(await services.reminders.sync_rules(),
                   key=lambda r: (order.get(r.name, len(order)), r.name))
    zone = await services.reminders.zone()
    now = services.clock.now()
    lines = [f"{'rule':16}{'enabled':9}{'at':7}{'last run':22}next run ({zone.key})"]
    for rule in rules:
        last = _local(rule.last_run_at, zone) if rule.last_run_at else "never"
        if not rule.enabled:
            upcoming = "-"
        elif rule.name == APPROVAL_SLA:
            upcoming = f"every {SLA_INTERVAL.seconds // 60} minutes while the bot runs"
        else:
            upcoming = _local(next_run(rule, now, zone, services.reminders.calendar), zone)
        lines.append(f"{rule.name:16}{'yes' if rule.enabled else 'no':9}{rule.at or '-':7}"
                     f"{last:22}{upcoming}")
        if rule.name == BACKUP and rule.last_run_at:
            lines.append(f"{'':16}{services.backups.outcome(rule.last_run_at)}")
    return lines


def cmd_jobs_list(args: argparse.Namespace) -> int:
    config = read_config(args)
    configure_logging(config, floor=logging.WARNING)
    for line in asyncio.run(_with_services(config, list_jobs)):
        print(line)
    return 0


async def run_job(services, name: str) -> str:
    from core.inbox.reminders import APPROVAL_SLA, BACKUP

    rules = {r.name: r for r in await services.reminders.sync_rules()}
    if not rules[name].enabled:
        raise UsageError(f"jobs run: {name} is disabled "
                         f"(reminders.{name}.enabled = false in the config)")
    if name == APPROVAL_SLA:
        created = await services.reminders.run(name)
        return f"{name}: {created} new notifications (reminders and escalations)"
    zone = await services.reminders.zone()
    if name == BACKUP:
        return await _run_backup(services, zone)
    if not services.reminders.calendar.is_working_day(services.clock.now().astimezone(
            zone).date()):
        return f"{name}: today is not a working day in the team's calendar, nothing to send"
    created = await services.reminders.run(name)
    if not created:
        return f"{name}: nothing new (already created today, or nobody to remind)"
    return f"{name}: {created} new notifications; the bot sends them while it runs"


async def _run_backup(services, zone) -> str:
    """Every day, once: a second run that day says what the first one made."""
    from core.inbox.reminders import BACKUP

    now = services.clock.now()
    await services.reminders.run(BACKUP, now)
    ran_at = next(r for r in await services.reminders.rules() if r.name == BACKUP).last_run_at
    outcome = services.backups.outcome(ran_at)
    if ran_at != now:
        return f"{BACKUP}: already ran today at {_local(ran_at, zone)}: {outcome}"
    return f"{BACKUP}: {outcome}"


def cmd_jobs_run(args: argparse.Namespace) -> int:
    from core.inbox.reminders import RULE_NAMES

    if args.rule not in RULE_NAMES:
        raise UsageError(f'jobs run: unknown rule "{args.rule}" '
                         f"(known: {', '.join(RULE_NAMES)})")
    config = read_config(args)
    configure_logging(config, floor=logging.WARNING)
    print(asyncio.run(_with_services(config, lambda services: run_job(services, args.rule))))
    return 0


STATUS_CHOICES = {"committed": "c", "approved": "a", "pending": "p", "rejected": "r"}


async def export_claims(services, period, status, form, output: Path):
    """Every claim of the period (as finance sees them) into `output`, with a progress bar."""
    from tqdm import tqdm

    partial = output.with_name(output.name + ".part")
    with tqdm(unit=" claims", file=sys.stderr, desc=output.name) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        try:
            with partial.open("wb") as target:
                result = await services.expense_stats.export(None, period, status, form,
                                                             target, progress=progress)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    partial.replace(output)  # a finished file or none: never half of one
    return result


def cmd_export(args: argparse.Namespace) -> int:
    from core.domain.expenses.stats import StatusFilter
    from core.domain.period import Period, PeriodError
    from core.expenses.export import ExportFormat

    try:
        period = Period.parse(args.period)
    except PeriodError as error:
        raise UsageError(f"export: --period {args.period}: {error}") from None
    output = Path(args.output)
    if not output.parent.is_dir():
        raise UsageError(f"export: --output {output}: no such folder {output.parent}")
    status, form = StatusFilter(STATUS_CHOICES[args.status]), ExportFormat(args.format)
    config = read_config(args)
    configure_logging(config, floor=logging.WARNING)
    result = asyncio.run(_with_services(
        config, lambda services: export_claims(services, period, status, form, output)))
    print(f"{result.rows} claims, total {result.total}, written to {output}")
    return 0


def _age(seconds: float) -> str:
    """45 s, 12 min, 3 h 5 min, 2 d 4 h."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 24:
        return f"{hours} h {minutes % 60} min"
    return f"{hours // 24} d {hours % 24} h"


async def status_lines(config: Config) -> tuple[int, list[str]]:
    """What `crmbot status` prints, one fact a line, and its exit code (1 when the schema is
    not the one this crmbot migrates to). Reads only: nothing is migrated or synced."""
    from bootstrap import build_services
    from core.inbox.reminders import RULE_NAMES
    from core.ports import SystemClock
    from storage.database import Database, DatabaseUnavailable
    from storage.health import outbox_backlog, readiness
    from storage.leadership import read_holder

    database = Database.connect(config.database.url)
    try:
        found = await readiness(database)
        if found.database != "ok":
            raise DatabaseUnavailable(config.database.url, found.error or "no answer")
        schema = f"database schema: {found.migrations} ({found.revision or 'empty'})"
        if not found.ready:
            return 1, [f"{schema}; this crmbot expects {found.head}: run `crmbot db upgrade`"
                       if found.migrations == "behind" else
                       f"{schema}; this crmbot knows up to {found.head}: run a newer crmbot"]
        services = build_services(config, database, SystemClock())
        zone, now = await services.reminders.zone(), services.clock.now()
        lines = [f"time zone: {zone.key}", schema]
        holder = await read_holder(database)
        lines.append("active process: none" if holder is None else
                     f"active process: {holder.worker}, since {_local(holder.since, zone)}, "
                     f"last seen {_local(holder.seen_at, zone)} "
                     f"({_age((now - holder.seen_at).total_seconds())} ago)")
        backlog = await outbox_backlog(database, now)
        waiting = (f", the oldest waiting {_age(backlog.lag_seconds(now))} (due "
                   f"{_local(backlog.oldest_due_at, zone)})" if backlog.oldest_due_at else "")
        lines += [f"outbox due now: {backlog.due}{waiting}",
                  f"outbox scheduled for later: {backlog.by_state['pending'] - backlog.due}",
                  f"outbox failed (refused for good): {backlog.by_state['failed']}",
                  f"outbox skipped (recipient unreachable or no longer true): "
                  f"{backlog.by_state['skipped']}"]
        stored = {r.name: r for r in await services.reminders.rules()}
        for name in RULE_NAMES:
            rule = stored.get(name)
            last = (f"last run {_local(rule.last_run_at, zone)}"
                    if rule and rule.last_run_at else "never run")
            lines.append(f"rule {name}: {last}{'' if rule is None or rule.enabled else ', off'}")
        return 0, lines
    finally:
        await database.dispose()


def cmd_status(args: argparse.Namespace) -> int:
    """The active process, the outbox's backlog and each rule's last run, from the database."""
    config = read_config(args)
    configure_logging(config, floor=logging.WARNING)
    code, lines = asyncio.run(status_lines(config))
    for line in lines:
        print(line)
    return code


async def serve_api(config: Config) -> None:
    import uvicorn

    from api.app import create_app
    from storage.database import Database

    database = Database.connect(config.database.url)
    try:
        # log_config=None: uvicorn logs through configure_logging's handler.
        server = uvicorn.Server(uvicorn.Config(
            create_app(config, database), host=config.api.listen, port=config.api.port,
            log_config=None, server_header=False))
        await server.serve()
    finally:
        await database.dispose()


def cmd_api(args: argparse.Namespace) -> int:
    """Serve the finance API on [api] listen and port."""
    config = read_config(args)
    config.api.require_servable()
    configure_logging(config)
    asyncio.run(upgrade_database(config))
    asyncio.run(serve_api(config))
    return 0


async def serve_web(config: Config) -> None:
    import uvicorn

    from storage.database import Database
    from web.app import create_app, settle

    database = Database.connect(config.database.url)
    try:
        server = uvicorn.Server(uvicorn.Config(
            create_app(config, database), host=config.web.listen, port=config.web.port,
            log_config=None, server_header=False, proxy_headers=True))
        settle()
        await server.serve()
    finally:
        await database.dispose()


def cmd_web(args: argparse.Namespace) -> int:
    """Serve the Mini App (the manager's portal) on [web] listen and port."""
    config = read_config(args)
    config.require_token()
    configure_logging(config)
    asyncio.run(upgrade_database(config))
    asyncio.run(serve_web(config))
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from core.ports import SystemClock
    from storage.backup import backup

    config = read_config(args)
    configure_logging(config, floor=logging.WARNING)
    folder = Path(args.folder)
    manifest = asyncio.run(backup(config.database.url, config.storage.photos_dir, folder,
                                  SystemClock().now()))
    print(f"backed up {manifest.contents} to {folder} ({manifest.backend}, schema "
          f"{manifest.revision})")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from storage.backup import restore

    config = read_config(args)
    configure_logging(config, floor=logging.WARNING)
    folder = Path(args.folder)
    manifest = asyncio.run(restore(folder, config.database.url, config.storage.photos_dir))
    print(f"restored {manifest.contents} from the backup of {manifest.made_at}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    configure_logging(floor=logging.WARNING)
    try:
        return asyncio.run(run_demo(color=sys.stdout.isatty() and not args.plain,
                                    serve=args.serve))
    except KeyboardInterrupt:
        return 0


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a --config given before the subcommand is not reset by the subcommand's own.
    common.add_argument("--config", default=argparse.SUPPRESS,
                        help="config file (default: $CRMBOT_CONFIG or config.toml)")
    top = argparse.ArgumentParser(prog="crmbot", description=__doc__, parents=[common])
    commands = top.add_subparsers(dest="command", required=True)
    commands.add_parser("run", parents=[common], help="run the bot").set_defaults(func=cmd_run)
    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    db.add_parser("upgrade", parents=[common], help="migrate to the latest schema").set_defaults(
        func=cmd_db_upgrade)
    org = commands.add_parser("org", help="the organisation").add_subparsers(dest="org",
                                                                             required=True)
    importer = org.add_parser("import", parents=[common], help="create or update the org")
    importer.add_argument("file", help="an org file, see examples/org.toml")
    importer.set_defaults(func=cmd_org_import)
    jobs = commands.add_parser(
        "jobs", help="the scheduled reminders, digests and backup").add_subparsers(
        dest="jobs", required=True)
    lister = jobs.add_parser("list", parents=[common], help="each rule: on or off, when it runs")
    lister.set_defaults(func=cmd_jobs_list)
    runner = jobs.add_parser("run", parents=[common], help="run a rule now (once per day)")
    runner.add_argument("rule", help="a rule name, as `crmbot jobs list` shows")
    runner.set_defaults(func=cmd_jobs_run)
    commands.add_parser("status", parents=[common], help="the active process, the outbox and "
                        "the rules' last runs").set_defaults(func=cmd_status)
    exporter = commands.add_parser("export", parents=[common],
                                   help="expense claims of a period as XLSX or CSV")
    exporter.add_argument("--period", required=True, help="2026-11, 2026-Q4 or 2026")
    exporter.add_argument("--status", choices=list(STATUS_CHOICES), default="committed",
                          help="committed = approved + pending (the default)")
    exporter.add_argument("--format", choices=["xlsx", "csv"], default="xlsx")
    exporter.add_argument("--output", required=True, help="the file to write")
    exporter.set_defaults(func=cmd_export)
    commands.add_parser("api", parents=[common],
                        help="serve the finance API ([api] in the config)").set_defaults(
        func=cmd_api)
    commands.add_parser("web", parents=[common],
                        help="serve the Mini App, the managers' dashboard ([web] in the "
                             "config)").set_defaults(func=cmd_web)
    saver = commands.add_parser("backup", parents=[common],
                                help="a consistent copy of the database and the photos")
    saver.add_argument("folder", help="a new or empty folder to write it to")
    saver.set_defaults(func=cmd_backup)
    restorer = commands.add_parser("restore", parents=[common],
                                   help="a backup into an empty database and photo folder")
    restorer.add_argument("folder", help="a folder `crmbot backup` wrote")
    restorer.set_defaults(func=cmd_restore)
    demo = commands.add_parser("demo", help="play a scripted day against a local Bot API")
    demo.add_argument("--plain", action="store_true", help="no colours")
    demo.add_argument("--serve", type=int, nargs="?", const=8090, metavar="PORT",
                      help="then keep the bot running with its dashboard (the Mini App) on "
                           "127.0.0.1:PORT (8090) and print a link to open it")
    demo.set_defaults(func=cmd_demo)
    return top


def main(argv: list[str] | None = None) -> int:
    from telegram.error import InvalidToken, NetworkError

    from storage.backup import BackupError
    from storage.database import DatabaseUnavailable, unavailable_cause
    from storage.leadership import AlreadyRunning

    args = parser().parse_args(argv)
    args.config = getattr(args, "config", None)
    try:
        return args.func(args)
    except (ConfigError, OrgFileError, UsageError, DatabaseUnavailable, BackupError,
            AlreadyRunning) as error:
        print(f"crmbot: {error}", file=sys.stderr)
        return EXIT_USAGE
    except InvalidToken:
        print("crmbot: telegram.token: the Bot API server refused this token", file=sys.stderr)
        return EXIT_USAGE
    except NetworkError as error:
        # No traceback: the usual cause is the address or the network, not the code.
        print(f"crmbot: telegram.base_url: cannot reach the Bot API server ({error})",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        # No traceback when the database cannot be reached or opened: the cause is the
        # address, the server, the folder or another process, not the code.
        cause = unavailable_cause(error)
        url = getattr(args, "database_url", None)
        if cause is None or url is None:
            raise
        print(f"crmbot: {DatabaseUnavailable(url, cause)}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
