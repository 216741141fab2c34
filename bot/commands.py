"""The bot's commands: who may use each, and where."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from bot.i18n import N_
from core.domain.org.model import Role
from core.domain.period import Period, PeriodError


@dataclass(frozen=True)
class ShowOrSet:
    """What '/budget', '/budget 2026-Q4' or '/budget set ...' asks for (and /goals alike)."""

    period: str | None = None  # to show: the period named, if any
    settings: tuple[str, ...] | None = None  # to set: the words after 'set'


def show_or_set(args: Sequence[str], setting_words: Collection[int]) -> ShowOrSet | None:
    """A command that shows (for a period, or the current one) or sets; None when the words
    are neither, so that the caller shows how to set. `setting_words`: how many words may
    follow 'set'."""
    if args and args[0].lower() == "set":
        settings = tuple(args[1:])
        return ShowOrSet(settings=settings) if len(settings) in setting_words else None
    if len(args) > 1:
        return None
    return ShowOrSet(period=args[0] if args else None)


def picked_period(text: str | None) -> Period | None:
    """The period typed after /stats, /export or /pipeline (2026-11, 2026-Q4, 2026); None
    when there is none or it cannot be read."""
    if not text:
        return None
    try:
        return Period.parse(text)
    except PeriodError:
        return None


@dataclass(frozen=True)
class Command:
    name: str
    description: str  # marked with N_, translated when shown
    roles: frozenset[Role] = frozenset()  # empty: every member
    private_only: bool = True

    def allowed(self, roles: frozenset[Role]) -> bool:
        return not self.roles or bool(self.roles & roles)


COMMANDS: tuple[Command, ...] = (
    Command("start", N_("Main menu")),
    Command("help", N_("What I can do for you"), private_only=False),
    Command("language", N_("Switch between English and 简体中文")),
    Command("plan", N_("Write the plan for a day (default: the next working day)")),
    Command("log", N_("Today's work log: what became of the plan")),
    Command("cancel", N_("Stop writing a plan or a log")),
    Command("expense", N_("File an expense claim, e.g. /expense 120.50 taxi to Harbor")),
    Command("claims", N_("My expense claims: drafts, pending, decided")),
    Command("claim", N_("One claim and its history, e.g. /claim EXP-2026-000123")),
    Command("trip", N_("Group claims into a trip and submit them together")),
    Command("opp", N_("Add an opportunity: customer, title, amount, close date, stage")),
    Command("opps", N_("My opportunities (managers: the team's); /opps harbor searches")),
    Command("pipeline", N_("The pipeline by stage: amounts, win rate, funnel chart")),
    Command("goals", N_("My goals and the team's: progress and the pace still needed")),
    Command("inbox", N_("Your notifications: approvals, reminders, alerts")),
    Command("reminders", N_("Pause reminders or set quiet hours")),
    Command("calendar", N_("My schedule: plans, logs and check-ins by month")),
    Command("team", N_("Your team today: who planned, checked in and logged"),
            roles=frozenset({Role.MANAGER, Role.ADMIN})),
    Command("digest", N_("The team digest: who planned and logged (in a team group)"),
            private_only=False),
    Command("stats", N_("Expense statistics: by category, unit, member, budget vs actual"),
            roles=frozenset({Role.MANAGER, Role.FINANCE, Role.ADMIN})),
    Command("export", N_("Export expense claims as XLSX or CSV"),
            roles=frozenset({Role.MANAGER, Role.FINANCE, Role.ADMIN})),
    Command("checkout", N_("Check out of the visit you are at")),
    Command("budget", N_("Budgets of your units and how much is used; set one"),
            roles=frozenset({Role.MANAGER, Role.FINANCE, Role.ADMIN})),
    Command("invite", N_("Invite a new member to your department"),
            roles=frozenset({Role.MANAGER, Role.ADMIN})),
    Command("bindgroup", N_("Send your department's reminders and digests to this group"),
            roles=frozenset({Role.MANAGER, Role.ADMIN}), private_only=False),
    Command("unbindgroup", N_("Stop sending your department's messages to this group"),
            roles=frozenset({Role.MANAGER, Role.ADMIN}), private_only=False),
)


def commands_for(roles: frozenset[Role]) -> list[Command]:
    return [c for c in COMMANDS if c.allowed(roles)]


def everyone_commands() -> list[Command]:
    return [c for c in COMMANDS if not c.roles]


def private_only_names() -> set[str]:
    return {c.name for c in COMMANDS if c.private_only}
