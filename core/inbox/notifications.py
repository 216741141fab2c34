"""The information center's use cases: publishing, the inbox, the outbox, team groups."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.domain.errors import DomainError, NotAllowed, NotFound
from core.domain.inbox.notifications import (
    REMINDER_KINDS,
    DeliveryState,
    NewNotification,
    Notification,
    NotificationKind,
    Page,
    QuietHours,
    parse_clock,
)
from core.domain.inbox.reminders import TeamGroup
from core.domain.org.model import Member, OrgSettings, OrgTree, Role
from core.domain.org.permissions import can_act_on_department
from core.domain.paging import Pages
from core.org.members import active_member
from core.ports import Clock, SystemClock, UnitOfWork, UnitOfWorkFactory

INBOX_PAGE_SIZE = 5
# A longer "night" would hold reminders back for most of the working day: surely a typo.
MAX_QUIET_HOURS = 16
# People type ranges with a hyphen, dashes, a tilde, "to", or Chinese 至 / 到.
_RANGE_SEPARATOR = re.compile(r"\s*(?:-|–|—|~|～|\bto\b|至|到)\s*", re.IGNORECASE)


def parse_quiet_hours(text: str) -> QuietHours:
    """'22:00-07:30' -> QuietHours; a DomainError whose message shows an example otherwise."""
    parts = _RANGE_SEPARATOR.split(text.strip().replace("：", ":"), maxsplit=1)
    if len(parts) != 2:
        raise DomainError("quiet_hours_format")
    try:
        start, end = parse_clock(parts[0]), parse_clock(parts[1])
    except ValueError:
        raise DomainError("quiet_hours_format") from None
    if start == end:
        raise DomainError("quiet_hours_same")
    minutes = ((end.hour - start.hour) * 60 + end.minute - start.minute) % (24 * 60)
    if minutes > MAX_QUIET_HOURS * 60:
        raise DomainError("quiet_hours_too_long")
    return QuietHours(start, end)


def quiet_hours_text(quiet: QuietHours) -> str:
    """QuietHours(22:00, 07:30) -> '22:00-07:30', the form parse_quiet_hours reads back."""
    return f"{quiet.start:%H:%M}-{quiet.end:%H:%M}"


async def publish(uow: UnitOfWork, new: NewNotification, *, now: datetime,
                  settings: OrgSettings) -> Notification | None:
    """Record a notification inside the caller's unit of work; None if its key exists.

    Reminders wait out the member's quiet hours and are not created while they paused
    them; anything for a member the messenger refuses to reach goes straight to their inbox.
    """
    due = new.due_at or now
    state = DeliveryState.PENDING
    if new.member_id is not None:
        member = await uow.members.get(new.member_id)
        if member is None or not member.active:
            return None
        if new.kind in REMINDER_KINDS:
            if member.reminders_paused:
                return None
            if member.quiet_hours is not None:
                zone = ZoneInfo(settings.timezone)
                due = member.quiet_hours.next_end(due.astimezone(zone)).astimezone(due.tzinfo)
        if not member.reachable or member.account_id is None:
            state = DeliveryState.SKIPPED
    else:
        group = await uow.groups.get(new.group_id)
        if group is None or not group.active:
            return None
    return await uow.notifications.add(Notification(
        id=None, key=new.key, kind=new.kind, member_id=new.member_id, group_id=new.group_id,
        payload=new.payload, created_at=now, due_at=due, subject_type=new.subject_type,
        subject_id=new.subject_id, state=state))


async def publish_many(uow: UnitOfWork, news: list[NewNotification], *, now: datetime,
                       settings: OrgSettings, late: bool = False) -> int:
    """Record many notifications at once (a fan-out); returns how many were new.

    The same rules as `publish`, with members and groups loaded once instead of per item.
    A `late` fan-out (a rule caught up after a restart) leaves out the reminders of those
    inside their quiet hours now, rather than holding them for a morning they no longer fit.
    """
    members = {m.id: m for m in await uow.members.all()}
    groups = {g.id: g for g in await uow.groups.active()}
    zone = ZoneInfo(settings.timezone)
    rows: list[Notification] = []
    for new in news:
        due, state = new.due_at or now, DeliveryState.PENDING
        if new.member_id is not None:
            member = members.get(new.member_id)
            if member is None or not member.active:
                continue
            if new.kind in REMINDER_KINDS:
                if member.reminders_paused:
                    continue
                if member.quiet_hours is not None:
                    if late and member.quiet_hours.contains(
                            now.astimezone(zone).time().replace(tzinfo=None)):
                        continue
                    due = member.quiet_hours.next_end(due.astimezone(zone)).astimezone(due.tzinfo)
            if not member.reachable or member.account_id is None:
                state = DeliveryState.SKIPPED
        elif new.group_id not in groups:
            continue
        rows.append(Notification(
            id=None, key=new.key, kind=new.kind, member_id=new.member_id,
            group_id=new.group_id, payload=new.payload, created_at=now, due_at=due,
            subject_type=new.subject_type, subject_id=new.subject_id, state=state))
    return await uow.notifications.add_many(rows)


class InboxService:
    """A member's notifications: unread first, opened one at a time."""

    def __init__(self, uows: UnitOfWorkFactory, clock: Clock) -> None:
        self._uows = uows
        self._clock = clock

    async def page(self, account_id: int, number: int = 0,
                   size: int = INBOX_PAGE_SIZE) -> Page:
        async with self._uows(read_only=True) as uow:
            member = await active_member(uow, account_id)
            now = self._clock.now()
            total, unread = await uow.notifications.inbox_counts(member.id, now)
            pages = Pages.of(total, size, number)
            items = await uow.notifications.inbox(member.id, pages.offset, size, now)
            return Page(items, pages.number, pages.count, total, unread)

    async def unread(self, account_id: int) -> int:
        async with self._uows(read_only=True) as uow:
            member = await uow.members.by_account_id(account_id)
            if member is None:
                return 0
            return (await uow.notifications.inbox_counts(member.id, self._clock.now()))[1]

    async def open(self, account_id: int, notification_id: int) -> Notification:
        """Show one notification to its recipient and mark it read; others get NotFound."""
        async with self._uows() as uow:
            member = await active_member(uow, account_id)
            notification = await uow.notifications.get(notification_id)
            if notification is None or notification.member_id != member.id:
                raise NotFound("notification_not_found")
            if notification.read_at is None:
                await uow.notifications.mark_read(notification_id, self._clock.now())
                await uow.commit()
                notification = replace(notification, read_at=self._clock.now())
            return notification


@dataclass(frozen=True)
class Delivery:
    """A claimed notification with where and how to send it."""

    notification: Notification
    chat_id: int
    language: str
    timezone: str
    recipient_name: str


@dataclass(frozen=True)
class Refusal:
    """The messenger refused for good: who should hear about it."""

    notified: int  # notifications published about it


class OutboxService:
    """Claims due notifications for a dispatcher and records what the messenger answered."""

    def __init__(self, uows: UnitOfWorkFactory, clock: Clock, defaults: OrgSettings,
                 *, worker: str, lease: timedelta = timedelta(seconds=60),
                 lease_clock: Clock | None = None) -> None:
        self._uows = uows
        self._clock = clock
        # Leases are between processes, in real seconds: a test or demo that moves the team's
        # clock by hours must not make every claim look abandoned.
        self._lease_clock = lease_clock or SystemClock()
        self._defaults = defaults
        self.worker = worker
        self.lease = lease

    async def claim(self, limit: int) -> list[Delivery]:
        """The oldest due notifications, claimed for this worker until the lease ends."""
        now = self._clock.now()
        deliveries: list[Delivery] = []
        async with self._uows() as uow:
            settings = await uow.organization.get() or self._defaults
            held = self._lease_clock.now()
            claimed = await uow.notifications.claim_due(now, self.worker, held + self.lease, limit,
                                                        held_at=held)
            # The recipients in one query: a batch is mostly different people.
            members = await uow.members.many({n.member_id for n in claimed if n.member_id})
            for notification in claimed:
                delivery = await self._address(uow, notification, settings, members)
                if delivery is not None:
                    deliveries.append(delivery)
            await uow.commit()
        return deliveries

    async def _address(self, uow: UnitOfWork, notification: Notification,
                       settings: OrgSettings, members: dict[int, Member]) -> Delivery | None:
        if notification.member_id is not None:
            member = members.get(notification.member_id)
            if member is None or not member.active or not member.reachable or \
                    member.account_id is None:
                await uow.notifications.give_up(notification.id, self.worker,
                                                state=DeliveryState.SKIPPED,
                                                error="recipient cannot be reached")
                return None
            return Delivery(notification, member.account_id,
                            member.language or settings.default_language, settings.timezone,
                            member.name)
        group = await uow.groups.get(notification.group_id)
        if group is None or not group.active:
            await uow.notifications.give_up(notification.id, self.worker,
                                            state=DeliveryState.SKIPPED,
                                            error="group is no longer bound")
            return None
        return Delivery(notification, group.chat_id, settings.default_language,
                        settings.timezone, group.title)

    async def delivered(self, delivery: Delivery, message_id: int | None) -> bool:
        notification = delivery.notification
        async with self._uows() as uow:
            done = await uow.notifications.delivered(
                notification.id, self.worker, version=notification.version,
                chat_id=delivery.chat_id, message_id=message_id, at=self._clock.now())
            await uow.commit()
            return done

    async def delivered_many(self, sent: list[tuple[Delivery, int | None]]) -> list[bool]:
        """Record several deliveries in one transaction; which of them this worker still held."""
        # A fan-out sends faster than one commit per message could keep up with.
        async with self._uows() as uow:
            recorded = await uow.notifications.delivered_many(self.worker, [
                (d.notification.id, d.notification.version, d.chat_id, message_id)
                for d, message_id in sent], self._clock.now())
            await uow.commit()
            return [d.notification.id in recorded for d, _ in sent]

    async def retry(self, delivery: Delivery, *, after: timedelta, error: str,
                    count_attempt: bool = True) -> None:
        notification = delivery.notification
        async with self._uows() as uow:
            await uow.notifications.retry_later(
                notification.id, self.worker, due_at=self._clock.now() + after,
                attempts=notification.attempts + (1 if count_attempt else 0), error=error)
            await uow.commit()

    async def failed(self, delivery: Delivery, error: str) -> None:
        async with self._uows() as uow:
            await uow.notifications.give_up(delivery.notification.id, self.worker,
                                            state=DeliveryState.FAILED, error=error)
            await uow.commit()

    async def unreachable(self, delivery: Delivery, error: str) -> Refusal:
        """The person blocked the bot, or the bot left the group: stop, and say so once."""
        notification, now = delivery.notification, self._clock.now()
        async with self._uows() as uow:
            settings = await uow.organization.get() or self._defaults
            await uow.notifications.give_up(notification.id, self.worker,
                                            state=DeliveryState.SKIPPED, error=error)
            if notification.member_id is not None:
                told = await self._member_unreachable(uow, notification.member_id, now, settings)
            else:
                told = await self._group_gone(uow, notification.group_id, now, settings)
            await uow.commit()
            return Refusal(told)

    async def _member_unreachable(self, uow: UnitOfWork, member_id: int, now: datetime,
                                  settings: OrgSettings) -> int:
        member = await uow.members.get(member_id)
        if member is None or not member.reachable:
            return 0
        member = replace(member, unreachable_since=now)
        await uow.members.update(member)
        await uow.notifications.skip_pending_to_member(member.id, "recipient cannot be reached")
        tree = OrgTree.of(await uow.departments.all())
        everyone = await uow.members.all()
        retired = {m.id for m in everyone if not m.active}
        # Their manager: a department head who blocked the bot is told about by the next one up.
        managers = [m for m in tree.manager_chain(member.department_id, retired=retired)
                    if m != member.id][:1]
        admins = [m.id for m in everyone if m.active and m.has(Role.ADMIN)]
        told = 0
        for recipient in dict.fromkeys([*managers, *admins]):
            if recipient == member.id:
                continue
            created = await publish(uow, NewNotification(
                key=f"unreachable:{member.id}:{now:%Y%m%dT%H%M%S}:{recipient}",
                kind=NotificationKind.SYSTEM, member_id=recipient,
                payload={"event": "member_unreachable", "member": member.name},
                subject_type="member", subject_id=member.id), now=now, settings=settings)
            told += created is not None
        return told

    async def _group_gone(self, uow: UnitOfWork, group_id: int, now: datetime,
                          settings: OrgSettings) -> int:
        group = await uow.groups.get(group_id)
        if group is None or not group.active:
            return 0
        await uow.groups.save(replace(group, active=False))
        await uow.notifications.skip_pending_to_group(group.id, "group is no longer bound")
        return await _tell_group_owner(uow, group, now, settings, "group_unbound_removed")

    async def release(self) -> int:
        """Hand back this worker's unsent claims (a clean shutdown)."""
        async with self._uows() as uow:
            released = await uow.notifications.release(self.worker)
            await uow.commit()
            return released

    async def renew(self) -> int:
        """Keep this worker's claims for another lease (it is alive and still sending)."""
        async with self._uows() as uow:
            renewed = await uow.notifications.renew(self.worker,
                                                    self._lease_clock.now() + self.lease)
            await uow.commit()
            return renewed

    async def release_abandoned(self, abandoned: Callable[[str], bool]) -> int:
        """Hand back the claims of workers known to be gone, without waiting for their lease."""
        async with self._uows() as uow:
            released = 0
            for worker in await uow.notifications.claimants():
                if worker != self.worker and abandoned(worker):
                    released += await uow.notifications.release(worker)
            await uow.commit()
            return released

    async def recent_group_sends(self, within: timedelta) -> list[tuple[int, float]]:
        """(chat id, seconds ago) of what went to groups within the last `within`: another
        process's sends, which still count in the messenger's per-group window."""
        now = self._clock.now()
        async with self._uows() as uow:
            sends = await uow.notifications.group_sends_since(now - within)
        return [(chat_id, (now - at).total_seconds()) for chat_id, at in sends]

    async def release_all(self) -> int:
        """On start with SQLite (one process): claims left by a killed process are free."""
        async with self._uows() as uow:
            released = await uow.notifications.release()
            await uow.commit()
            return released


async def _tell_group_owner(uow: UnitOfWork, group: TeamGroup, now: datetime,
                            settings: OrgSettings, event: str) -> int:
    """Tell whoever bound the group (and its department's manager) what happened to it."""
    tree = OrgTree.of(await uow.departments.all())
    retired = {m.id for m in await uow.members.all() if not m.active}
    chain = tree.manager_chain(group.department_id, retired=retired) \
        if group.department_id in tree.departments else []
    manager = chain[0] if chain else None
    told = 0
    for recipient in dict.fromkeys(r for r in (group.bound_by, manager) if r is not None):
        created = await publish(uow, NewNotification(
            key=f"{event}:{group.id}:{now:%Y%m%dT%H%M%S}:{recipient}",
            kind=NotificationKind.SYSTEM, member_id=recipient,
            payload={"event": event, "group": group.title}, subject_type="group",
            subject_id=group.id), now=now, settings=settings)
        told += created is not None
    return told


@dataclass(frozen=True)
class Binding:
    """The result of /bindgroup: bound, or a choice of departments to make first."""

    group: TeamGroup | None
    choices: list[tuple[int, str]]
    department_name: str | None = None


class GroupService:
    """Binding team group chats to departments."""

    def __init__(self, uows: UnitOfWorkFactory, clock: Clock, defaults: OrgSettings) -> None:
        self._uows = uows
        self._clock = clock
        self._defaults = defaults

    async def bind(self, account_id: int, chat_id: int, title: str, *, bot_is_member: bool,
                   department_id: int | None = None) -> Binding:
        """Bind a group to a department the speaker manages (asking which, if several)."""
        if not bot_is_member:
            raise NotAllowed("bot_not_in_group")
        async with self._uows() as uow:
            actor = await active_member(uow, account_id)
            tree = OrgTree.of(await uow.departments.all())
            heads = [d for d in tree.departments.values() if d.manager_id == actor.id]
            if not heads and actor.has(Role.MANAGER):
                heads = [tree.departments[actor.department_id]]
            if not heads:
                raise NotAllowed("bind_not_manager")
            bound = await uow.groups.by_chat(chat_id)
            if bound is not None and bound.active and not can_act_on_department(
                    actor, bound.department_id, tree):
                # Another department's team chat: only its managers may move it.
                raise NotAllowed("group_bound_elsewhere")
            if department_id is None:
                if len(heads) > 1:
                    return Binding(None, [(d.id, d.name) for d in heads])
                department_id = heads[0].id
            if department_id not in tree.departments or not can_act_on_department(
                    actor, department_id, tree):
                raise NotAllowed("bind_not_manager")
            group = await uow.groups.save(TeamGroup(
                None, chat_id, title, department_id, actor.id, self._clock.now(), True))
            await uow.commit()
            return Binding(group, [], tree.departments[department_id].name)

    async def unbind(self, account_id: int, chat_id: int) -> TeamGroup:
        async with self._uows() as uow:
            actor = await active_member(uow, account_id)
            group = await uow.groups.by_chat(chat_id)
            if group is None or not group.active:
                raise NotFound("group_not_bound")
            tree = OrgTree.of(await uow.departments.all())
            if not can_act_on_department(actor, group.department_id, tree):
                raise NotAllowed("bind_not_manager")
            group = await uow.groups.save(replace(group, active=False))
            await uow.notifications.skip_pending_to_group(group.id, "group was unbound")
            await uow.commit()
            return group

    async def bound(self, chat_id: int) -> TeamGroup | None:
        async with self._uows(read_only=True) as uow:
            group = await uow.groups.by_chat(chat_id)
            return group if group is not None and group.active else None

    async def bot_removed(self, chat_id: int) -> int:
        """The bot was removed from a group: unbind it and tell its manager."""
        now = self._clock.now()
        async with self._uows() as uow:
            group = await uow.groups.by_chat(chat_id)
            if group is None or not group.active:
                return 0
            settings = await uow.organization.get() or self._defaults
            await uow.groups.save(replace(group, active=False))
            await uow.notifications.skip_pending_to_group(group.id, "bot removed from group")
            told = await _tell_group_owner(uow, group, now, settings, "group_unbound_removed")
            await uow.commit()
            return told
