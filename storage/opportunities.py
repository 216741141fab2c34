"""Opportunities, their stage history and notes; lists, duplicates and pipeline sums in SQL.

An opportunity is open while `closed_at` is NULL: moving to a terminal stage sets it,
reopening clears it, so the repository needs no knowledge of the configured stages.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    FromClause,
    Integer,
    Select,
    Text,
    and_,
    case,
    cast,
    func,
    insert,
    join,
    literal_column,
    not_,
    null,
    or_,
    outerjoin,
    select,
    type_coerce,
    union,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.domain.audit import OPPORTUNITY
from core.domain.expenses.claims import COMMITTED
from core.domain.money import CENT
from core.domain.opportunities.pipeline import (
    CardFacts,
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
from core.domain.schedule.calendar import PhotoFact
from core.domain.schedule.checkins import parse_flags
from storage import expense_totals, pipeline_counts
from storage.tables import (
    CheckInRow,
    ClaimRow,
    CustomerRow,
    LogEntryRow,
    MemberRow,
    OpportunityNoteRow,
    OpportunityRow,
    OpportunityStageRow,
    PipelineClosedRow,
    PipelineCountRow,
    PipelineStayRow,
    PlanItemRow,
    PlanRow,
    RecordChangeRow,
    VisitPhotoRow,
    WorkLogRow,
)
from storage.types import Money, UTCDateTime
from storage.value_lists import one_of

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


def _whose(scope: OpportunityScope, owner_id, department_id) -> list:
    """The conditions on rows of an owner and a department that keep those in scope."""
    if scope.everyone:
        return []
    if not scope.department_ids:
        return [owner_id == scope.member_id]
    return [or_(owner_id == scope.member_id, one_of(department_id, scope.department_ids))]


def _in_scope(scope: OpportunityScope) -> list:
    return _whose(scope, _ROW.owner_id, _ROW.department_id)


def _like(needle: str) -> str:
    """A LIKE pattern matching the needle anywhere, its own % and _ taken literally."""
    escaped = needle.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _visits(opportunity: Opportunity) -> list[Select]:
    """The check-ins of a deal: those linked to it, and its owner's at its customer from its
    creation until it closed (each served by an index, newest first)."""
    linked = select(CheckInRow.id).where(*_linked_visits(opportunity))
    there = select(CheckInRow.id).where(*_visits_there(opportunity))
    return [linked, there]


def _linked_visits(opportunity: Opportunity) -> list:
    return [CheckInRow.opportunity_id == opportunity.id]


def _visits_there(opportunity: Opportunity) -> list:
    conditions = [CheckInRow.customer_id == opportunity.customer_id,
                  CheckInRow.member_id == opportunity.owner_id,
                  CheckInRow.at >= opportunity.created_at]
    if opportunity.closed_at is not None:
        conditions.append(CheckInRow.at <= opportunity.closed_at)
    return conditions


# The columns of a card's one query: every source fills those it has, the rest are NULL of
# the column's type (so PostgreSQL can unite them, and each comes back as its Python type).
_CARD_COLUMNS = {
    "id": Integer(), "at": UTCDateTime(), "member_id": Integer(), "member_name": Text(),
    "day": Date(), "text": Text(), "customer": Text(), "time": Text(), "outcome": Text(),
    "moved_to": Date(), "note": Text(), "flag": Boolean(), "from_stage": Text(),
    "to_stage": Text(), "number": Text(), "status": Text(), "category": Text(),
    "amount": Money(), "currency": Text(), "flags": Text(), "lat": Float(), "lon": Float(),
    "distance_m": Float(), "count": BigInteger(),
}


def _card_part(kind: str, source: FromClause, *where, order_by: tuple = (),
               limit: int | None = None, group_by: tuple = (), **columns) -> Select:
    """One source of the card in the row shape of all: its `kind`, its columns and typed
    NULLs for the rest; read whole (in its own order, up to its limit) before the union."""
    named = [literal_column(f"'{kind}'").label("kind")] + [
        (columns[name] if name in columns else cast(null(), type_)).label(name)
        for name, type_ in _CARD_COLUMNS.items()]
    part = (select(*named).select_from(source).where(*where).group_by(*group_by)
            .order_by(*order_by).limit(limit).subquery())
    return select(part)


def _stage_entry(row, _zone: tzinfo) -> TimelineEntry:
    return TimelineEntry(row["at"], "stage", row["member_id"],
                         {"from": row["from_stage"], "to": row["to_stage"],
                          "reason": row["note"]}, row["id"])


def _note_entry(row, _zone: tzinfo) -> TimelineEntry:
    return TimelineEntry(row["at"], "note", row["member_id"], {"text": row["text"]}, row["id"])


def _plan_entry(row, zone: tzinfo) -> TimelineEntry:
    """A plan item at the moment it was planned for: its day, at its time or the day's
    start, in the team's zone."""
    hour, minute = (int(part) for part in (row["time"] or "00:00").split(":"))
    return TimelineEntry(
        datetime.combine(row["day"], time(hour, minute), zone), "plan", row["member_id"],
        {"text": row["text"], "customer": row["customer"], "day": row["day"],
         "time": row["time"], "outcome": row["outcome"], "moved_to": row["moved_to"],
         "note": row["note"], "verified": bool(row["flag"])}, row["id"])


def _log_entry(row, _zone: tzinfo) -> TimelineEntry:
    return TimelineEntry(row["at"], "log", row["member_id"],
                         {"text": row["text"], "customer": row["customer"], "day": row["day"],
                          "late": bool(row["flag"])}, row["id"])


def _check_in_entry(row, _zone: tzinfo) -> TimelineEntry:
    return TimelineEntry(
        row["at"], "check_in", row["member_id"],
        {"customer": row["customer"],
         "flags": sorted(f.value for f in parse_flags(row["flags"])),
         "map": map_link(row["lat"], row["lon"]), "distance_m": row["distance_m"],
         "photos": int(row["count"] or 0)}, row["id"])


def _claim_entry(row, _zone: tzinfo) -> TimelineEntry:
    return TimelineEntry(row["at"], "claim", row["member_id"],
                         {"number": row["number"], "status": row["status"],
                          "category": row["category"], "amount": row["amount"],
                          "currency": row["currency"]}, row["id"])


def _change_entry(row, _zone: tzinfo) -> TimelineEntry:
    return TimelineEntry(row["at"], "change", row["member_id"],
                         {"field": row["category"], "from": row["text"], "to": row["note"]},
                         row["id"])


_ENTRIES = {"stage": _stage_entry, "note": _note_entry, "plan": _plan_entry,
            "log": _log_entry, "check_in": _check_in_entry, "claim": _claim_entry,
            "change": _change_entry}


class SqlOpportunityTimeline:
    """What else touches a deal, read for its card in one query: each source newest first up
    to a limit (stage changes, notes, plan items, work-log entries, check-ins with their
    photos counted, expense claims), the claims' totals and the photos of its check-ins.

    Mixed into the opportunity repository: the card reads all of it in one unit of work.
    """

    session: AsyncSession

    async def card_facts(self, opportunity: Opportunity, zone: tzinfo, limit: int, *,
                         money: bool) -> CardFacts:
        parts = [*self._history_parts(opportunity.id, limit),
                 *self._work_parts(opportunity.id, limit),
                 *self._check_in_parts(opportunity, limit),
                 self._claim_part(opportunity.id, limit)]
        if money:
            parts.append(self._totals_part(opportunity.id))
        rows = (await self.session.execute(union_all(*parts))).mappings().all()
        entries, names, totals, photos = [], {}, [], 0
        for row in rows:
            kind = row["kind"]
            if row["member_id"] is not None and row["member_name"] is not None:
                names[row["member_id"]] = row["member_name"]
            if kind == "photos":
                photos = int(row["count"] or 0)
            elif kind == "total":
                totals.append(ClaimTotal(row["category"], int(row["count"]),
                                         row["amount"] or Decimal("0.00")))
            else:
                entries.append(_ENTRIES[kind](row, zone))
        totals.sort(key=lambda t: (-t.amount, t.category or ""))
        return CardFacts(entries, names, totals, photos)

    @staticmethod
    def _history_parts(opportunity_id: int, limit: int) -> list[Select]:
        """Stage changes, edits of its fields and notes, newest first."""
        stages, notes, edits = OpportunityStageRow, OpportunityNoteRow, RecordChangeRow
        return [
            _card_part("change", outerjoin(edits, MemberRow, MemberRow.id == edits.changed_by),
                       edits.subject_type == OPPORTUNITY, edits.subject_id == opportunity_id,
                       order_by=(edits.at.desc(), edits.id.desc()), limit=limit,
                       id=edits.id, at=edits.at, member_id=edits.changed_by,
                       member_name=MemberRow.name, category=edits.field,
                       text=edits.old_value, note=edits.new_value),
            _card_part("stage", outerjoin(stages, MemberRow, MemberRow.id == stages.changed_by),
                       stages.opportunity_id == opportunity_id,
                       order_by=(stages.at.desc(), stages.id.desc()), limit=limit,
                       id=stages.id, at=stages.at, member_id=stages.changed_by,
                       member_name=MemberRow.name, from_stage=stages.from_stage,
                       to_stage=stages.to_stage, note=stages.reason),
            _card_part("note", outerjoin(notes, MemberRow, MemberRow.id == notes.author_id),
                       notes.opportunity_id == opportunity_id,
                       order_by=(notes.at.desc(), notes.id.desc()), limit=limit,
                       id=notes.id, at=notes.at, member_id=notes.author_id,
                       member_name=MemberRow.name, text=notes.text)]

    def _work_parts(self, opportunity_id: int, limit: int) -> list[Select]:
        """Plan items linked to the deal (latest day and time first) and work-log entries
        linked to it (newest written first).

        On PostgreSQL the deal's plan items are read first (OFFSET 0 keeps the subquery
        whole): joined straight to the plans, it walks every plan by day for a busy deal.
        SQLite starts from the deal's items by itself, and copying them first only costs."""
        items = PlanItemRow
        if self.session.bind.dialect.name != "sqlite":
            items = aliased(PlanItemRow, select(PlanItemRow)
                            .where(PlanItemRow.opportunity_id == opportunity_id)
                            .offset(0).subquery())
        entries = LogEntryRow
        at_time = func.coalesce(items.at_time, "00:00")
        return [
            _card_part("plan", join(items, PlanRow, items.plan_id == PlanRow.id)
                       .outerjoin(CustomerRow, items.customer_id == CustomerRow.id)
                       .outerjoin(MemberRow, MemberRow.id == PlanRow.member_id),
                       items.opportunity_id == opportunity_id,
                       order_by=(PlanRow.day.desc(), at_time.desc(), items.id.desc()),
                       limit=limit,
                       id=items.id, member_id=PlanRow.member_id, member_name=MemberRow.name,
                       day=PlanRow.day, text=items.text, customer=CustomerRow.name,
                       time=items.at_time, outcome=items.outcome, moved_to=items.moved_to,
                       note=items.note, flag=items.verified_check_in_id.is_not(None)),
            _card_part("log", join(entries, WorkLogRow, entries.log_id == WorkLogRow.id)
                       .outerjoin(CustomerRow, entries.customer_id == CustomerRow.id)
                       .outerjoin(MemberRow, MemberRow.id == WorkLogRow.member_id),
                       entries.opportunity_id == opportunity_id,
                       order_by=(entries.created_at.desc(), entries.id.desc()), limit=limit,
                       id=entries.id, at=entries.created_at, member_id=WorkLogRow.member_id,
                       member_name=MemberRow.name, day=WorkLogRow.day, text=entries.text,
                       customer=CustomerRow.name, flag=entries.late)]

    @staticmethod
    def _check_in_parts(opportunity: Opportunity, limit: int) -> list[Select]:
        """The deal's check-ins (see _visits), each source's newest `limit`, with trust flags,
        where they were and how many photos were taken there; and the photos of them all."""
        photos = (select(func.count(VisitPhotoRow.id))
                  .where(VisitPhotoRow.check_in_id == CheckInRow.id)
                  .correlate(CheckInRow).scalar_subquery())
        parts = [
            _card_part("check_in",
                       outerjoin(CheckInRow, CustomerRow, CheckInRow.customer_id == CustomerRow.id)
                       .outerjoin(MemberRow, MemberRow.id == CheckInRow.member_id),
                       *conditions, order_by=(CheckInRow.at.desc(), CheckInRow.id.desc()),
                       limit=limit,
                       id=CheckInRow.id, at=CheckInRow.at, member_id=CheckInRow.member_id,
                       member_name=MemberRow.name, customer=CustomerRow.name,
                       flags=CheckInRow.flags, lat=CheckInRow.lat, lon=CheckInRow.lon,
                       distance_m=CheckInRow.distance_m, count=photos)
            for conditions in (_linked_visits(opportunity), _visits_there(opportunity))]
        parts.append(_card_part(
            "photos", VisitPhotoRow.__table__,
            VisitPhotoRow.check_in_id.in_(union(*_visits(opportunity))),
            count=func.count(VisitPhotoRow.id)))
        return parts

    @staticmethod
    def _claim_part(opportunity_id: int, limit: int) -> Select:
        """Claims filed for the deal, when they were submitted (drafts are their author's)."""
        return _card_part(
            "claim", outerjoin(ClaimRow, MemberRow, MemberRow.id == ClaimRow.member_id),
            ClaimRow.opportunity_id == opportunity_id, ClaimRow.submitted_at.is_not(None),
            order_by=(ClaimRow.submitted_at.desc(), ClaimRow.id.desc()), limit=limit,
            id=ClaimRow.id, at=ClaimRow.submitted_at, member_id=ClaimRow.member_id,
            member_name=MemberRow.name, number=ClaimRow.number, status=ClaimRow.status,
            category=ClaimRow.category, amount=ClaimRow.amount, currency=ClaimRow.currency)

    @staticmethod
    def _totals_part(opportunity_id: int) -> Select:
        """Approved and pending claims for the deal by category, as /stats counts them."""
        return _card_part(
            "total", ClaimRow.__table__, ClaimRow.opportunity_id == opportunity_id,
            ClaimRow.status.in_(sorted(s.value for s in COMMITTED)),
            group_by=(ClaimRow.category,),
            category=ClaimRow.category, count=func.count(), amount=func.sum(ClaimRow.amount))

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
        # A new deal has no claims yet.
        await self.add_change(StageChange(new_id, None, opportunity.stage, changed_by, at),
                              day=None)
        created = replace(opportunity, id=new_id, version=1, updated_at=at,
                          last_activity_at=at)
        await pipeline_counts.count(self.session, None, created)
        return created

    async def get(self, opportunity_id: int) -> Opportunity | None:
        found = (await self.session.execute(
            _opportunities().where(_ROW.id == opportunity_id))).first()
        return None if found is None else _opportunity(*found)

    async def update(self, opportunity: Opportunity, *, version: int, stage: str) -> bool:
        """Write the opportunity if it is still at `version` in `stage` (raising the version),
        and keep the pipeline's sums; False when someone changed it first."""
        # The deal as it is stored, locked until the end of the transaction on PostgreSQL:
        # what its sums take out is what the update replaces.
        found = (await self.session.execute(
            _opportunities().where(_ROW.id == opportunity.id, _ROW.version == version,
                                   _ROW.stage == stage)
            .with_for_update(of=_ROW))).first()
        if found is None:
            return False
        before = _opportunity(*found)  # read now: the update refreshes the row's object
        result = await self.session.execute(
            update(_ROW).where(_ROW.id == opportunity.id, _ROW.version == version,
                               _ROW.stage == stage)
            .values(title=opportunity.title, amount=opportunity.amount,
                    stage=opportunity.stage, probability=opportunity.probability,
                    expected_close=opportunity.expected_close, closed_at=opportunity.closed_at,
                    lost_reason=opportunity.lost_reason, updated_at=opportunity.updated_at,
                    last_activity_at=opportunity.updated_at, version=_ROW.version + 1))
        if result.rowcount != 1:
            return False
        await pipeline_counts.count(self.session, before, replace(
            before, amount=opportunity.amount, stage=opportunity.stage,
            probability=opportunity.probability, closed_at=opportunity.closed_at))
        return True

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

    async def add_change(self, change: StageChange, *, day: date | None) -> StageChange:
        """Keep the move, with when the stage it leaves was entered (the latest change);
        claims of the deal spent on `day` (the move's date on the team's calendar) or later
        count under the new stage from now on."""
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
        if change.from_stage is not None and entered_at is not None:
            await pipeline_counts.count_stay(self.session, change.opportunity_id,
                                             change.from_stage, entered_at, change.at)
        if day is not None:
            await expense_totals.restage(self.session, change.opportunity_id, day,
                                         change.to_stage)
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
        changes: dict[int, list[StageChange]] = defaultdict(list)
        rows = await self.session.scalars(select(OpportunityStageRow).where(one_of(
            OpportunityStageRow.opportunity_id, (opportunity_id for opportunity_id, _ in pairs))))
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

    async def open_sums(self, scope: OpportunityScope) -> list[tuple[int, StageSum]]:
        """Per owner and stage: count, amount and weighted amount of the open opportunities,
        from the sums kept in pipeline_counts."""
        kept = PipelineCountRow
        rows = await self.session.execute(
            select(kept.owner_id, kept.stage, func.sum(kept.deals), func.sum(kept.amount),
                   func.sum(kept.weighted))
            .where(*_whose(scope, kept.owner_id, kept.department_id))
            .group_by(kept.owner_id, kept.stage))
        return [(owner_id, _stage_sum(stage, count, cents, cent_percent))
                for owner_id, stage, count, cents, cent_percent in rows if count]

    async def closed_sums(self, scope: OpportunityScope, start: datetime,
                          end: datetime) -> list[StageSum]:
        """Per stage: the opportunities in scope that closed (won or lost) in [start, end).

        The whole UTC days of the period come from the sums kept per day and department
        (pipeline_closed), the hours before the first and after the last from the index on
        the closing moment, as do a person's own deals outside their departments."""
        first, last = _whole_days(start, end)
        parts = []
        if scope.everyone or scope.department_ids:
            kept = PipelineClosedRow
            parts.append(
                select(kept.stage, func.sum(kept.deals), func.sum(kept.amount),
                       func.sum(kept.weighted))
                .where(kept.day >= first.date(), kept.day < last.date(),
                       *([] if scope.everyone
                         else [one_of(kept.department_id, scope.department_ids)]))
                .group_by(kept.stage))
            teams = [] if scope.everyone else [one_of(_ROW.department_id,
                                                      scope.department_ids)]
            parts += [_closed(start, first, teams), _closed(last, end, teams)]
        if not scope.everyone:
            parts.append(_closed(start, end, _own_outside(scope)))
        totals: dict[str, tuple[int, int, int]] = {}
        for stage, count, cents, cent_percent in await self.session.execute(
                union_all(*parts)):
            before = totals.get(stage, (0, 0, 0))
            totals[stage] = (before[0] + int(count or 0), before[1] + int(cents or 0),
                             before[2] + int(cent_percent or 0))
        return [_stage_sum(stage, *sums) for stage, sums in totals.items() if sums[0]]

    async def stays_ending_between(self, scope: OpportunityScope, start: datetime,
                                   end: datetime) -> list[StageStays]:
        """Per stage: how many stays in it ended in [start, end) (the opportunity moved on)
        and their total seconds, over the opportunities in scope.

        The whole UTC days of the period come from the kept stays of the departments in
        scope (pipeline_stays), the hours before the first and after the last from the moves
        themselves, as do a person's own deals outside those departments. Each move row knows
        when the stage it leaves was entered (entered_at: the previous change, in the order
        of (at, id), as days_per_stage pairs them), so the moves are read from one index.
        """
        first, last = _whole_days(start, end)
        parts = []
        if scope.everyone or scope.department_ids:
            kept = PipelineStayRow
            parts.append(
                select(kept.stage, func.sum(kept.stays),
                       cast(func.sum(kept.milliseconds), Float) / 1000)
                .where(kept.day >= first.date(), kept.day < last.date(),
                       *([] if scope.everyone
                         else [one_of(kept.department_id, scope.department_ids)]))
                .group_by(kept.stage))
            parts += [self._stays(start, first, departments=scope.department_ids),
                      self._stays(last, end, departments=scope.department_ids)]
        if not scope.everyone:
            parts.append(self._stays(start, end, deals=_own_outside(scope)))
        totals: dict[str, tuple[int, float]] = {}
        for stage, count, seconds in await self.session.execute(union_all(*parts)):
            before = totals.get(stage, (0, 0.0))
            totals[stage] = (before[0] + int(count or 0), before[1] + float(seconds or 0))
        return [StageStays(stage, count, seconds)
                for stage, (count, seconds) in totals.items() if count]

    def _stays(self, start: datetime, end: datetime, *,
               departments: Collection[int] | None = None, deals: list | None = None
               ) -> Select:
        """The stays that ended in [start, end) summed per stage from the moves: of the deals
        of `departments` (looked up move by move: a few hours' moves, departments of many
        deals), of the opportunities matching `deals` (looked up deal by deal: a person's),
        or of all."""
        stages = OpportunityStageRow
        if self.session.bind.dialect.name == "sqlite":
            seconds = (func.julianday(stages.at) - func.julianday(stages.entered_at)) * 86_400
        else:
            seconds = func.extract("epoch", stages.at - stages.entered_at)
        query = (select(stages.from_stage, func.count(), func.sum(seconds))
                 .where(stages.at >= start, stages.at < end, stages.from_stage.is_not(None),
                        stages.entered_at.is_not(None))
                 .group_by(stages.from_stage))
        if departments is not None:
            query = query.where(one_of(
                select(_ROW.department_id).where(_ROW.id == stages.opportunity_id)
                .scalar_subquery(), departments))
        if deals:
            query = query.where(stages.opportunity_id.in_(select(_ROW.id).where(*deals)))
        return query


def _stage_sum(stage: str, count: int, cents: int | None,
               cent_percent: int | None) -> StageSum:
    return StageSum(stage, int(count), Decimal(int(cents or 0)) * CENT,
                    weighted_from_cent_percent(int(cent_percent or 0)))


def _own_outside(scope: OpportunityScope) -> list:
    """A person's own deals that the departments in scope do not hold (all, for a rep)."""
    own = [_ROW.owner_id == scope.member_id]
    if scope.department_ids:
        own.append(not_(one_of(_ROW.department_id, scope.department_ids)))
    return own


def _closed(start: datetime, end: datetime, deals: list) -> Select:
    """The opportunities matching `deals` closed in [start, end), summed per stage."""
    cents = type_coerce(_ROW.amount, BigInteger)
    return (select(_ROW.stage, func.count(), func.sum(cents), func.sum(cents * _ROW.probability))
            .where(_ROW.closed_at >= start, _ROW.closed_at < end, *deals)
            .group_by(_ROW.stage))


def _whole_days(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The first and the last UTC midnight of [start, end) (the same when none is whole)."""
    first = datetime.combine(start.astimezone(UTC).date(), time(), UTC)
    if first < start:
        first += timedelta(days=1)
    last = datetime.combine(end.astimezone(UTC).date(), time(), UTC)
    if last < first:
        return start, start
    return first, last
