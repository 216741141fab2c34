"""Opportunities, their stage history and notes; lists, duplicates and pipeline sums in SQL.

An opportunity is open while `closed_at` is NULL: moving to a terminal stage sets it,
reopening clears it, so the repository needs no knowledge of the configured stages.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import replace
from datetime import date, datetime, time, tzinfo
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Select,
    and_,
    case,
    func,
    insert,
    or_,
    select,
    type_coerce,
    union,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from core.domain.calendar import PhotoFact, parse_flags
from core.domain.expenses import COMMITTED
from core.domain.opportunity import (
    ClaimTotal,
    Note,
    Opportunity,
    OpportunityScope,
    StageChange,
    StageStays,
    StageSum,
    TimelineEntry,
    map_link,
    normalized_title,
    stage_on,
    weighted_from_cent_percent,
)
from storage.tables import (
    CheckInRow,
    ClaimRow,
    CustomerRow,
    LogEntryRow,
    OpportunityNoteRow,
    OpportunityRow,
    OpportunityStageRow,
    PlanItemRow,
    PlanRow,
    VisitPhotoRow,
    WorkLogRow,
)

# Ids per IN (...) list: well below SQLite's and asyncpg's parameter limits.
_CHUNK = 1000
_ROW = OpportunityRow


def _opportunities() -> Select:
    return select(_ROW, CustomerRow.name).join(CustomerRow, CustomerRow.id == _ROW.customer_id)


def _opportunity(row: OpportunityRow, customer_name: str = "") -> Opportunity:
    return Opportunity(
        id=row.id, owner_id=row.owner_id, department_id=row.department_id,
        customer_id=row.customer_id, title=row.title, amount=row.amount, currency=row.currency,
        stage=row.stage, probability=row.probability, expected_close=row.expected_close,
        created_at=row.created_at, updated_at=row.updated_at, closed_at=row.closed_at,
        lost_reason=row.lost_reason, last_activity_at=row.last_activity_at, version=row.version,
        customer_name=customer_name or "")


def _change(row: OpportunityStageRow) -> StageChange:
    return StageChange(row.opportunity_id, row.from_stage, row.to_stage, row.changed_by, row.at,
                       row.reason, row.id)


def _in_scope(scope: OpportunityScope) -> list:
    if scope.everyone:
        return []
    if not scope.department_ids:
        return [_ROW.owner_id == scope.member_id]
    return [or_(_ROW.owner_id == scope.member_id,
                _ROW.department_id.in_(sorted(scope.department_ids)))]


def _like(needle: str) -> str:
    """A LIKE pattern matching the needle anywhere, its own % and _ taken literally."""
    escaped = needle.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _chunks(values: list) -> list[list]:
    return [values[i:i + _CHUNK] for i in range(0, len(values), _CHUNK)]


def _visits(opportunity: Opportunity) -> list[Select]:
    """The check-ins of a deal: those linked to it, and its owner's at its customer from its
    creation until it closed (each served by an index, newest first)."""
    linked = select(CheckInRow.id).where(CheckInRow.opportunity_id == opportunity.id)
    there = select(CheckInRow.id).where(CheckInRow.customer_id == opportunity.customer_id,
                                        CheckInRow.member_id == opportunity.owner_id,
                                        CheckInRow.at >= opportunity.created_at)
    if opportunity.closed_at is not None:
        there = there.where(CheckInRow.at <= opportunity.closed_at)
    return [linked, there]


class SqlOpportunityTimeline:
    """What else touches a deal, each source read newest first up to a limit: plan items,
    work-log entries, check-ins with their photos, and expense claims (with their totals).

    Mixed into the opportunity repository: the card reads all of it in one unit of work.
    """

    session: AsyncSession

    async def plan_entries(self, opportunity_id: int, zone: tzinfo,
                           limit: int) -> list[TimelineEntry]:
        """Plan items linked to the deal, at the moment they were planned for (their day, at
        their time or the day's start, in the team's zone)."""
        at_time = func.coalesce(PlanItemRow.at_time, "00:00")
        rows = await self.session.execute(
            select(PlanItemRow, PlanRow.member_id, PlanRow.day, CustomerRow.name)
            .join(PlanRow, PlanItemRow.plan_id == PlanRow.id)
            .outerjoin(CustomerRow, PlanItemRow.customer_id == CustomerRow.id)
            .where(PlanItemRow.opportunity_id == opportunity_id)
            .order_by(PlanRow.day.desc(), at_time.desc(), PlanItemRow.id.desc()).limit(limit))
        entries = []
        for item, member_id, day, customer in rows:
            hour, minute = (int(part) for part in (item.at_time or "00:00").split(":"))
            entries.append(TimelineEntry(
                datetime.combine(day, time(hour, minute), zone), "plan", member_id,
                {"text": item.text, "customer": customer, "day": day, "time": item.at_time,
                 "outcome": item.outcome, "moved_to": item.moved_to, "note": item.note,
                 "verified": item.verified_check_in_id is not None}, item.id))
        return entries

    async def log_entries(self, opportunity_id: int, limit: int) -> list[TimelineEntry]:
        """Work-log entries linked to the deal, when they were written."""
        rows = await self.session.execute(
            select(LogEntryRow, WorkLogRow.member_id, WorkLogRow.day, CustomerRow.name)
            .join(WorkLogRow, LogEntryRow.log_id == WorkLogRow.id)
            .outerjoin(CustomerRow, LogEntryRow.customer_id == CustomerRow.id)
            .where(LogEntryRow.opportunity_id == opportunity_id)
            .order_by(LogEntryRow.created_at.desc(), LogEntryRow.id.desc()).limit(limit))
        return [TimelineEntry(entry.created_at, "log", member_id,
                              {"text": entry.text, "customer": customer, "day": day,
                               "late": entry.late}, entry.id)
                for entry, member_id, day, customer in rows]

    async def check_in_entries(self, opportunity: Opportunity,
                               limit: int) -> list[TimelineEntry]:
        """The deal's check-ins (see _visits), each source's newest `limit`, with trust flags,
        a map link and how many photos were taken there."""
        photos = (select(func.count(VisitPhotoRow.id))
                  .where(VisitPhotoRow.check_in_id == CheckInRow.id)
                  .correlate(CheckInRow).scalar_subquery())
        entries = []
        for ids in _visits(opportunity):
            rows = await self.session.execute(
                select(CheckInRow, CustomerRow.name, photos)
                .outerjoin(CustomerRow, CheckInRow.customer_id == CustomerRow.id)
                .where(CheckInRow.id.in_(ids))
                .order_by(CheckInRow.at.desc(), CheckInRow.id.desc()).limit(limit))
            entries += [TimelineEntry(
                row.at, "check_in", row.member_id,
                {"customer": customer, "flags": sorted(f.value for f in parse_flags(row.flags)),
                 "map": map_link(row.lat, row.lon), "distance_m": row.distance_m,
                 "photos": count or 0}, row.id)
                for row, customer, count in rows]
        return entries

    async def claim_entries(self, opportunity_id: int, limit: int) -> list[TimelineEntry]:
        """Claims filed for the deal, when they were submitted (drafts are their author's)."""
        rows = await self.session.scalars(
            select(ClaimRow)
            .where(ClaimRow.opportunity_id == opportunity_id, ClaimRow.submitted_at.is_not(None))
            .order_by(ClaimRow.submitted_at.desc(), ClaimRow.id.desc()).limit(limit))
        return [TimelineEntry(row.submitted_at, "claim", row.member_id,
                              {"number": row.number, "status": row.status,
                               "category": row.category, "amount": row.amount,
                               "currency": row.currency}, row.id)
                for row in rows]

    async def claim_totals(self, opportunity_id: int) -> list[ClaimTotal]:
        """Approved and pending claims for the deal by category, as /stats counts them."""
        rows = await self.session.execute(
            select(ClaimRow.category, func.count(), func.sum(ClaimRow.amount))
            .where(ClaimRow.opportunity_id == opportunity_id,
                   ClaimRow.status.in_(sorted(s.value for s in COMMITTED)))
            .group_by(ClaimRow.category))
        return sorted((ClaimTotal(category, count, amount or Decimal("0.00"))
                       for category, count, amount in rows),
                      key=lambda t: (-t.amount, t.category or ""))

    async def photo_count(self, opportunity: Opportunity) -> int:
        return int(await self.session.scalar(
            select(func.count(VisitPhotoRow.id))
            .where(VisitPhotoRow.check_in_id.in_(union(*_visits(opportunity))))) or 0)

    async def photos(self, opportunity: Opportunity, limit: int) -> list[PhotoFact]:
        """The newest `limit` photos taken at the deal's check-ins, oldest of them first."""
        rows = await self.session.execute(
            select(VisitPhotoRow, CheckInRow.at, CheckInRow.member_id, CustomerRow.name)
            .join(CheckInRow, VisitPhotoRow.check_in_id == CheckInRow.id)
            .outerjoin(CustomerRow, CheckInRow.customer_id == CustomerRow.id)
            .where(VisitPhotoRow.check_in_id.in_(union(*_visits(opportunity))))
            .order_by(CheckInRow.at.desc(), VisitPhotoRow.id.desc()).limit(limit))
        return [PhotoFact(photo.id, member_id, photo.sha256, at, customer, photo.file_id)
                for photo, at, member_id, customer in reversed(rows.all())]


class SqlOpportunityRepository(SqlOpportunityTimeline):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, opportunity: Opportunity, changed_by: int) -> Opportunity:
        """Insert the opportunity and its first stage change (from nothing)."""
        at = opportunity.created_at
        new_id = await self.session.scalar(
            insert(_ROW).values(
                owner_id=opportunity.owner_id, department_id=opportunity.department_id,
                customer_id=opportunity.customer_id, title=opportunity.title,
                amount=opportunity.amount, currency=opportunity.currency,
                stage=opportunity.stage, probability=opportunity.probability,
                expected_close=opportunity.expected_close, version=1, created_at=at,
                updated_at=at, closed_at=opportunity.closed_at, lost_reason=None,
                last_activity_at=at)
            .returning(_ROW.id))
        await self.add_change(StageChange(new_id, None, opportunity.stage, changed_by, at))
        return replace(opportunity, id=new_id, version=1, updated_at=at, last_activity_at=at)

    async def get(self, opportunity_id: int) -> Opportunity | None:
        found = (await self.session.execute(
            _opportunities().where(_ROW.id == opportunity_id))).first()
        return None if found is None else _opportunity(*found)

    async def update(self, opportunity: Opportunity, *, version: int, stage: str) -> bool:
        """Write the opportunity if it is still at `version` in `stage` (raising the version);
        False when someone changed it first."""
        result = await self.session.execute(
            update(_ROW).where(_ROW.id == opportunity.id, _ROW.version == version,
                               _ROW.stage == stage)
            .values(title=opportunity.title, amount=opportunity.amount,
                    stage=opportunity.stage, probability=opportunity.probability,
                    expected_close=opportunity.expected_close, closed_at=opportunity.closed_at,
                    lost_reason=opportunity.lost_reason, updated_at=opportunity.updated_at,
                    last_activity_at=opportunity.updated_at, version=_ROW.version + 1))
        return result.rowcount == 1

    async def touch(self, opportunity_id: int, at: datetime) -> None:
        """Something happened on the deal (a visit, a note, a claim): not idle."""
        await self.session.execute(
            update(_ROW).where(_ROW.id == opportunity_id,
                               or_(_ROW.last_activity_at.is_(None), _ROW.last_activity_at < at))
            .values(last_activity_at=at))

    async def listed(self, scope: OpportunityScope, *, today: date,
                     stages: Collection[str] | None = None, search: str | None = None,
                     offset: int = 0, limit: int = 20) -> list[Opportunity]:
        """Overdue open ones first, then by expected close date."""
        overdue_first = case((and_(_ROW.closed_at.is_(None), _ROW.expected_close < today), 0),
                             else_=1)
        query = (_opportunities().where(*self._filters(scope, stages, search))
                 .order_by(overdue_first, _ROW.expected_close, _ROW.id)
                 .offset(offset).limit(limit))
        return [_opportunity(*row) for row in await self.session.execute(query)]

    async def count_listed(self, scope: OpportunityScope, *,
                           stages: Collection[str] | None = None,
                           search: str | None = None) -> int:
        query = (select(func.count()).select_from(_ROW)
                 .join(CustomerRow, CustomerRow.id == _ROW.customer_id)
                 .where(*self._filters(scope, stages, search)))
        return int(await self.session.scalar(query) or 0)

    @staticmethod
    def _filters(scope: OpportunityScope, stages: Collection[str] | None,
                 search: str | None) -> list:
        conditions = _in_scope(scope)
        if stages is not None:
            conditions.append(_ROW.stage.in_(sorted(stages)))
        if search and search.strip():
            pattern = _like(search.strip())
            conditions.append(or_(func.lower(_ROW.title).like(pattern, escape="\\"),
                                  func.lower(CustomerRow.name).like(pattern, escape="\\")))
        return conditions

    async def open_for(self, member_id: int) -> list[Opportunity]:
        """The member's open opportunities, closing soonest first."""
        rows = await self.session.execute(
            _opportunities().where(_ROW.owner_id == member_id, _ROW.closed_at.is_(None))
            .order_by(_ROW.expected_close, _ROW.id))
        return [_opportunity(*row) for row in rows]

    async def find_duplicate(self, customer_id: int, title: str) -> Opportunity | None:
        """An open opportunity at the customer whose title matches but for case and spacing.

        Titles of one customer's deals are few, so they are compared here, where casefold()
        and whitespace rules are the same on every backend.
        """
        wanted = normalized_title(title)
        rows = await self.session.execute(
            _opportunities().where(_ROW.customer_id == customer_id, _ROW.closed_at.is_(None))
            .order_by(_ROW.id))
        return next((_opportunity(*row) for row in rows
                     if normalized_title(row[0].title) == wanted), None)

    async def add_change(self, change: StageChange) -> StageChange:
        """Keep the move, with when the stage it leaves was entered (the latest change)."""
        entered_at = None
        if change.from_stage is not None:
            entered_at = await self.session.scalar(
                select(OpportunityStageRow.at)
                .where(OpportunityStageRow.opportunity_id == change.opportunity_id)
                .order_by(OpportunityStageRow.at.desc(), OpportunityStageRow.id.desc())
                .limit(1))
        new_id = await self.session.scalar(
            insert(OpportunityStageRow).values(
                opportunity_id=change.opportunity_id, from_stage=change.from_stage,
                to_stage=change.to_stage, changed_by=change.changed_by, at=change.at,
                reason=change.reason, entered_at=entered_at)
            .returning(OpportunityStageRow.id))
        return replace(change, id=new_id)

    async def history(self, opportunity_id: int, limit: int | None = None) -> list[StageChange]:
        """Stage changes, newest first."""
        query = (select(OpportunityStageRow)
                 .where(OpportunityStageRow.opportunity_id == opportunity_id)
                 .order_by(OpportunityStageRow.at.desc(), OpportunityStageRow.id.desc()))
        if limit is not None:
            query = query.limit(limit)
        return [_change(row) for row in await self.session.scalars(query)]

    async def stages_on(self, pairs: Collection[tuple[int, date]],
                        zone: tzinfo) -> dict[tuple[int, date], str | None]:
        """The stage each opportunity had at the end of each local day, from one read of the
        history of the opportunities named (None before one existed)."""
        ids = sorted({opportunity_id for opportunity_id, _ in pairs})
        changes: dict[int, list[StageChange]] = defaultdict(list)
        for chunk in _chunks(ids):
            rows = await self.session.scalars(
                select(OpportunityStageRow).where(OpportunityStageRow.opportunity_id.in_(chunk)))
            for row in rows:
                changes[row.opportunity_id].append(_change(row))
        return {(opportunity_id, day): stage_on(changes.get(opportunity_id, []), day, zone)
                for opportunity_id, day in pairs}

    async def add_note(self, note: Note) -> Note:
        new_id = await self.session.scalar(
            insert(OpportunityNoteRow).values(opportunity_id=note.opportunity_id,
                                              author_id=note.author_id, text=note.text,
                                              at=note.at)
            .returning(OpportunityNoteRow.id))
        return replace(note, id=new_id)

    async def notes(self, opportunity_id: int, limit: int | None = None) -> list[Note]:
        """Notes, newest first."""
        query = (select(OpportunityNoteRow)
                 .where(OpportunityNoteRow.opportunity_id == opportunity_id)
                 .order_by(OpportunityNoteRow.at.desc(), OpportunityNoteRow.id.desc()))
        if limit is not None:
            query = query.limit(limit)
        return [Note(r.opportunity_id, r.author_id, r.text, r.at, r.id)
                for r in await self.session.scalars(query)]

    async def stage_sums(self, scope: OpportunityScope, closed_from: datetime,
                         closed_before: datetime) -> list[tuple[int, StageSum]]:
        """Per owner and stage: count, amount and weighted amount of the open opportunities
        and of those closed in [closed_from, closed_before)."""
        weighted = func.sum(type_coerce(_ROW.amount, BigInteger) * _ROW.probability)
        rows = await self.session.execute(
            select(_ROW.owner_id, _ROW.stage, func.count(), func.sum(_ROW.amount), weighted)
            .where(*_in_scope(scope),
                   or_(_ROW.closed_at.is_(None),
                       and_(_ROW.closed_at >= closed_from, _ROW.closed_at < closed_before)))
            .group_by(_ROW.owner_id, _ROW.stage))
        return [(owner_id, StageSum(stage, count, amount or Decimal("0.00"),
                                    weighted_from_cent_percent(int(cent_percent or 0))))
                for owner_id, stage, count, amount, cent_percent in rows]

    async def stays_ending_between(self, scope: OpportunityScope, start: datetime,
                                   end: datetime) -> list[StageStays]:
        """Per stage: how many stays in it ended in [start, end) (the opportunity moved on)
        and their total seconds, summed by the database over the opportunities in scope.

        Each move row knows when the stage it leaves was entered (entered_at: the previous
        change, in the order of (at, id), as days_per_stage pairs them), so this reads the
        period's moves from one index.
        """
        stages = OpportunityStageRow
        if self.session.bind.dialect.name == "sqlite":
            seconds = (func.julianday(stages.at) - func.julianday(stages.entered_at)) * 86_400
        else:
            seconds = func.extract("epoch", stages.at - stages.entered_at)
        query = (select(stages.from_stage, func.count(), func.sum(seconds))
                 .where(stages.at >= start, stages.at < end, stages.from_stage.is_not(None),
                        stages.entered_at.is_not(None))
                 .group_by(stages.from_stage))
        if not scope.everyone:
            query = query.where(stages.opportunity_id.in_(select(_ROW.id).where(
                *_in_scope(scope))))
        rows = await self.session.execute(query)
        return [StageStays(stage, count, float(total or 0)) for stage, count, total in rows]

