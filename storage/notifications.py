"""Repositories of the information center: notifications (the outbox), team groups, rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.domain.inbox.notifications import DeliveryState, Notification, NotificationKind
from core.domain.inbox.reminders import ReminderRule, TeamGroup
from storage.tables import NotificationRow, ReminderRuleRow, TeamGroupRow

_COLUMNS = ("key", "kind", "member_id", "group_id", "payload", "subject_type", "subject_id",
            "state", "version", "sent_version", "attempts", "chat_id", "message_id",
            "created_at", "due_at", "delivered_at", "read_at", "last_error")


def _notification(row: NotificationRow) -> Notification:
    return Notification(
        id=row.id, key=row.key, kind=NotificationKind(row.kind), member_id=row.member_id,
        group_id=row.group_id, payload=row.payload, created_at=row.created_at,
        due_at=row.due_at, subject_type=row.subject_type, subject_id=row.subject_id,
        state=DeliveryState(row.state), version=row.version, sent_version=row.sent_version,
        attempts=row.attempts, chat_id=row.chat_id, message_id=row.message_id,
        delivered_at=row.delivered_at, read_at=row.read_at, last_error=row.last_error)


def _values(notification: Notification) -> dict[str, Any]:
    values = {name: getattr(notification, name) for name in _COLUMNS}
    values["kind"], values["state"] = str(notification.kind), str(notification.state)
    return values


class SqlNotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, notification: Notification) -> Notification | None:
        """Insert unless the key exists; None when it did (creating twice creates one)."""
        dialect = self.session.bind.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (insert(NotificationRow).values(**_values(notification))
                     .on_conflict_do_nothing(index_elements=["key"])
                     .returning(NotificationRow.id))
        new_id = (await self.session.execute(statement)).scalar_one_or_none()
        return None if new_id is None else await self.get(new_id)

    async def add_many(self, notifications: list[Notification]) -> int:
        """Insert many, skipping keys that exist; returns how many were new."""
        if not notifications:
            return 0
        dialect = self.session.bind.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (insert(NotificationRow).on_conflict_do_nothing(index_elements=["key"])
                     .returning(NotificationRow.id))
        created = 0
        for start in range(0, len(notifications), 1000):
            chunk = [_values(n) for n in notifications[start:start + 1000]]
            created += len((await self.session.execute(statement, chunk)).all())
        return created

    async def get(self, notification_id: int) -> Notification | None:
        row = await self.session.get(NotificationRow, notification_id, populate_existing=True)
        return None if row is None else _notification(row)

    async def by_key(self, key: str) -> Notification | None:
        row = await self.session.scalar(select(NotificationRow).where(NotificationRow.key == key))
        return None if row is None else _notification(row)

    async def revise(self, key: str, payload: dict[str, Any]) -> Notification | None:
        """New content for a notification: sent again, or its message edited if delivered."""
        row = await self.session.scalar(
            select(NotificationRow).where(NotificationRow.key == key).with_for_update())
        if row is None:
            return None
        if row.payload != payload:
            row.payload = payload
            row.version += 1
            # Skipped ones get another chance: the group may be bound again, the member
            # reachable again; the dispatcher checks that before sending.
            if row.state in (DeliveryState.DELIVERED, DeliveryState.SKIPPED):
                row.state = str(DeliveryState.PENDING)
            await self.session.flush()
        return _notification(row)

    async def withdraw(self, key: str, payload: dict[str, Any] | None = None, *,
                       quietly: bool = False) -> Notification | None:
        """A notification no longer true: not sent if it still waits, else edited to `payload`.

        `quietly`: only drop it while it waits; one already sent stays as it is.
        """
        row = await self.session.scalar(
            select(NotificationRow).where(NotificationRow.key == key).with_for_update())
        if row is None:
            return None
        never_sent = row.delivered_at is None
        if quietly:
            if never_sent and row.state == str(DeliveryState.PENDING):
                row.state, row.last_error = str(DeliveryState.SKIPPED), "passed by a newer one"
        elif payload is not None and row.payload != payload:
            row.payload = payload
            row.version += 1
            if never_sent:
                # One being sent right now is recorded as delivered with the older version,
                # and so is edited to this one.
                row.state, row.last_error = str(DeliveryState.SKIPPED), "no longer true"
            elif row.state == str(DeliveryState.DELIVERED):
                row.state = str(DeliveryState.PENDING)
        await self.session.flush()
        return _notification(row)

    async def claim_due(self, now: datetime, worker: str, lease_until: datetime,
                        limit: int, held_at: datetime | None = None) -> list[Notification]:
        """Take the oldest due notifications for this worker; others skip them.

        A recipient's notifications go out one at a time and in order: one waits while an
        earlier one to the same member or group is due, being sent, or waiting to be retried.
        """
        def nothing_ahead(recipient: str):
            mine, earlier = getattr(NotificationRow, recipient), aliased(NotificationRow)
            # One subquery per kind of recipient, asked only of that kind: each then looks
            # in its own index, whatever the planner's statistics say after a big fan-out.
            return or_(mine.is_(None), ~select(earlier.id).where(
                getattr(earlier, recipient) == mine,
                earlier.id < NotificationRow.id,
                earlier.state == str(DeliveryState.PENDING),
                # Scheduled for later and never tried (quiet hours): not ahead.
                or_(earlier.due_at <= now, earlier.last_error.is_not(None)),
            ).correlate(NotificationRow).exists())

        query = (select(NotificationRow.id)
                 .where(NotificationRow.state == str(DeliveryState.PENDING),
                        NotificationRow.due_at <= now,
                        or_(NotificationRow.claimed_until.is_(None),
                            NotificationRow.claimed_until < (held_at or now)),
                        nothing_ahead("member_id"), nothing_ahead("group_id"))
                 .order_by(NotificationRow.id).limit(limit))
        if self.session.bind.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = list(await self.session.scalars(query))
        if not ids:
            return []
        await self.session.execute(
            update(NotificationRow).where(NotificationRow.id.in_(ids))
            .values(claimed_by=worker, claimed_until=lease_until))
        rows = await self.session.scalars(
            select(NotificationRow).where(NotificationRow.id.in_(ids))
            .order_by(NotificationRow.id).execution_options(populate_existing=True))
        return [_notification(r) for r in rows]

    def _mine(self, notification_id: int, worker: str):
        return and_(NotificationRow.id == notification_id, NotificationRow.claimed_by == worker)

    async def delivered(self, notification_id: int, worker: str, *, version: int, chat_id: int,
                        message_id: int | None, at: datetime) -> bool:
        """Telegram accepted it; a newer version waiting stays pending (to be edited)."""
        result = await self.session.execute(
            update(NotificationRow).where(self._mine(notification_id, worker)).values(
                state=str(DeliveryState.DELIVERED),
                sent_version=version, chat_id=chat_id,
                # The message just sent or edited; an edit whose message was gone sent a new one.
                message_id=NotificationRow.message_id if message_id is None else message_id,
                delivered_at=func.coalesce(NotificationRow.delivered_at, at),
                claimed_by=None, claimed_until=None, last_error=None))
        if result.rowcount != 1:
            return False
        # A revision that landed while this version was in flight is sent as an edit.
        await self.session.execute(
            update(NotificationRow).where(NotificationRow.id == notification_id,
                                          NotificationRow.version > version)
            .values(state=str(DeliveryState.PENDING)))
        return True

    async def delivered_many(self, worker: str, sent: list[tuple[int, int, int, int | None]],
                             at: datetime) -> set[int]:
        """delivered() for many (id, version, chat_id, message_id); the ids still held, recorded."""
        if not sent:
            return set()
        mine = set(await self.session.scalars(select(NotificationRow.id).where(
            NotificationRow.id.in_([s[0] for s in sent]), NotificationRow.claimed_by == worker)))
        if not mine:
            return mine
        table = NotificationRow.__table__
        await self.session.execute(
            update(table).where(table.c.id == bindparam("nid")).values(
                state=str(DeliveryState.DELIVERED), sent_version=bindparam("sent"),
                chat_id=bindparam("chat"),
                message_id=func.coalesce(bindparam("message", type_=BigInteger),
                                         table.c.message_id),
                delivered_at=func.coalesce(table.c.delivered_at, at),
                claimed_by=None, claimed_until=None, last_error=None),
            [{"nid": i, "sent": v, "chat": c, "message": m}
             for i, v, c, m in sent if i in mine])
        # A revision that landed while its version was in flight is sent as an edit.
        await self.session.execute(
            update(NotificationRow).where(NotificationRow.id.in_(mine),
                                          NotificationRow.version > NotificationRow.sent_version)
            .values(state=str(DeliveryState.PENDING)))
        return mine

    async def retry_later(self, notification_id: int, worker: str, *, due_at: datetime,
                          attempts: int, error: str) -> None:
        await self.session.execute(
            update(NotificationRow).where(self._mine(notification_id, worker)).values(
                due_at=due_at, attempts=attempts, last_error=error[:500], claimed_by=None,
                claimed_until=None))

    async def give_up(self, notification_id: int, worker: str, *, state: DeliveryState,
                      error: str) -> None:
        await self.session.execute(
            update(NotificationRow).where(self._mine(notification_id, worker)).values(
                state=str(state), last_error=error[:500], claimed_by=None, claimed_until=None))

    async def release(self, worker: str | None = None) -> int:
        """Hand back claims (of one worker, or all of them) so they are sent by someone."""
        query = update(NotificationRow).where(NotificationRow.claimed_by.is_not(None))
        if worker is not None:
            query = query.where(NotificationRow.claimed_by == worker)
        result = await self.session.execute(query.values(claimed_by=None, claimed_until=None))
        return result.rowcount

    async def renew(self, worker: str, lease_until: datetime) -> int:
        """A live worker keeps what it holds for another lease."""
        result = await self.session.execute(
            update(NotificationRow).where(NotificationRow.claimed_by == worker)
            .values(claimed_until=lease_until))
        return result.rowcount

    async def claimants(self) -> list[str]:
        """The workers holding claims now."""
        return list(await self.session.scalars(
            select(NotificationRow.claimed_by).where(NotificationRow.claimed_by.is_not(None))
            .distinct()))

    async def group_sends_since(self, since: datetime) -> list[tuple[int, datetime]]:
        rows = await self.session.execute(
            select(NotificationRow.chat_id, NotificationRow.delivered_at).where(
                NotificationRow.group_id.is_not(None), NotificationRow.chat_id.is_not(None),
                NotificationRow.delivered_at >= since))
        return [(chat_id, at) for chat_id, at in rows]

    async def skip_pending_to_member(self, member_id: int, reason: str) -> int:
        result = await self.session.execute(
            update(NotificationRow).where(NotificationRow.member_id == member_id,
                                          NotificationRow.state == str(DeliveryState.PENDING),
                                          NotificationRow.message_id.is_(None))
            .values(state=str(DeliveryState.SKIPPED), last_error=reason, claimed_by=None,
                    claimed_until=None))
        return result.rowcount

    async def skip_pending_to_group(self, group_id: int, reason: str) -> int:
        result = await self.session.execute(
            update(NotificationRow).where(NotificationRow.group_id == group_id,
                                          NotificationRow.state == str(DeliveryState.PENDING))
            .values(state=str(DeliveryState.SKIPPED), last_error=reason, claimed_by=None,
                    claimed_until=None))
        return result.rowcount

    async def inbox(self, member_id: int, offset: int, limit: int,
                    now: datetime) -> list[Notification]:
        """A member's notifications that are due: unread first, newest first within each."""
        rows = await self.session.scalars(
            select(NotificationRow).where(NotificationRow.member_id == member_id,
                                          NotificationRow.due_at <= now)
            .order_by(NotificationRow.read_at.is_not(None), NotificationRow.id.desc())
            .offset(offset).limit(limit))
        return [_notification(r) for r in rows]

    async def inbox_counts(self, member_id: int, now: datetime) -> tuple[int, int]:
        """(all, unread) due notifications of a member (held-back reminders wait)."""
        total, unread = (await self.session.execute(
            select(func.count(), func.count().filter(NotificationRow.read_at.is_(None)))
            .where(NotificationRow.member_id == member_id,
                   NotificationRow.due_at <= now))).one()
        return total, unread

    async def mark_read(self, notification_id: int, at: datetime) -> None:
        await self.session.execute(
            update(NotificationRow).where(NotificationRow.id == notification_id,
                                          NotificationRow.read_at.is_(None))
            .values(read_at=at))


def _group(row: TeamGroupRow) -> TeamGroup:
    return TeamGroup(row.id, row.chat_id, row.title, row.department_id, row.bound_by,
                     row.bound_at, row.active)


class SqlTeamGroupRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_chat(self, chat_id: int) -> TeamGroup | None:
        row = await self.session.scalar(select(TeamGroupRow).where(TeamGroupRow.chat_id == chat_id))
        return None if row is None else _group(row)

    async def get(self, group_id: int) -> TeamGroup | None:
        row = await self.session.get(TeamGroupRow, group_id, populate_existing=True)
        return None if row is None else _group(row)

    async def active(self) -> list[TeamGroup]:
        rows = await self.session.scalars(
            select(TeamGroupRow).where(TeamGroupRow.active.is_(True)).order_by(TeamGroupRow.id))
        return [_group(r) for r in rows]

    async def save(self, group: TeamGroup) -> TeamGroup:
        row = await self.session.scalar(
            select(TeamGroupRow).where(TeamGroupRow.chat_id == group.chat_id))
        if row is None:
            row = TeamGroupRow(chat_id=group.chat_id)
            self.session.add(row)
        row.title, row.department_id = group.title, group.department_id
        row.bound_by, row.bound_at, row.active = group.bound_by, group.bound_at, group.active
        await self.session.flush()
        return _group(row)


def _rule(row: ReminderRuleRow) -> ReminderRule:
    return ReminderRule(row.name, row.enabled, row.at, row.params, row.last_run_at)


class SqlReminderRuleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self) -> list[ReminderRule]:
        rows = await self.session.scalars(select(ReminderRuleRow).order_by(ReminderRuleRow.name))
        return [_rule(r) for r in rows]

    async def get(self, name: str) -> ReminderRule | None:
        row = await self.session.get(ReminderRuleRow, name, populate_existing=True)
        return None if row is None else _rule(row)

    async def save(self, rule: ReminderRule) -> None:
        # An upsert: processes starting together on a fresh database must not collide.
        dialect = self.session.bind.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        values = dict(enabled=rule.enabled, at=rule.at, params=rule.params,
                      last_run_at=rule.last_run_at)
        await self.session.execute(
            insert(ReminderRuleRow).values(name=rule.name, **values)
            .on_conflict_do_update(index_elements=["name"], set_=values))
        self.session.expire_all()

    async def claim_run(self, rule: ReminderRule, at: datetime, since: datetime) -> bool:
        dialect = self.session.bind.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        await self.session.execute(
            insert(ReminderRuleRow).values(name=rule.name, enabled=rule.enabled, at=rule.at,
                                           params=rule.params, last_run_at=None)
            .on_conflict_do_nothing(index_elements=["name"]))
        # A second process waits for the first one's row lock, then finds the run recorded.
        claimed = await self.session.execute(
            update(ReminderRuleRow)
            .where(ReminderRuleRow.name == rule.name,
                   or_(ReminderRuleRow.last_run_at.is_(None),
                       ReminderRuleRow.last_run_at < since))
            .values(last_run_at=at).execution_options(synchronize_session=False))
        self.session.expire_all()
        return claimed.rowcount == 1
