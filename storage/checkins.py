"""Check-ins, visit photos, and customers found by where they are."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.domain.org.model import Customer
from core.domain.schedule.checkins import BoundingBox, CheckIn, OpenDeal, flags_text, parse_flags
from core.domain.schedule.photos import Exif, VisitPhoto
from storage.tables import CheckInRow, CustomerRow, MemberRow, OpportunityRow, VisitPhotoRow
from storage.value_lists import one_of

_CHECK_INS = CheckInRow.__table__
# Run once per check-in (executemany): an earlier id is an earlier check-in, so a batch
# holding two check-ins of one member leaves the later one open.
_CLOSE_BEFORE = (
    update(_CHECK_INS)
    .where(_CHECK_INS.c.member_id == bindparam("member"), _CHECK_INS.c.at >= bindparam("since"),
           _CHECK_INS.c.checked_out_at.is_(None), _CHECK_INS.c.id < bindparam("before"))
    .values(checked_out_at=bindparam("closed")))


def _check_in(row: CheckInRow) -> CheckIn:
    return CheckIn(row.id, row.member_id, row.at, row.sent_at, row.lat, row.lon, row.accuracy_m,
                   row.live_period, row.customer_id, row.distance_m, parse_flags(row.flags),
                   row.chat_id, row.message_id, row.last_seen_at, row.checked_out_at,
                   row.opportunity_id)


def _values(check_in: CheckIn) -> dict:
    return dict(member_id=check_in.member_id, at=check_in.at, sent_at=check_in.sent_at,
                lat=check_in.lat, lon=check_in.lon, accuracy_m=check_in.accuracy_m,
                live_period=check_in.live_period, customer_id=check_in.customer_id,
                distance_m=check_in.distance_m, flags=flags_text(check_in.flags),
                chat_id=check_in.chat_id, message_id=check_in.message_id,
                last_seen_at=check_in.last_seen_at, checked_out_at=check_in.checked_out_at,
                opportunity_id=check_in.opportunity_id)


class SqlCheckInRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, check_in: CheckIn) -> CheckIn:
        # One INSERT .. RETURNING, without the ORM's unit-of-work flush.
        new_id = await self.session.scalar(
            insert(CheckInRow).values(**_values(check_in)).returning(CheckInRow.id))
        return replace(check_in, id=new_id)

    async def active_members(self, accounts: Collection[int]) -> dict[int, int]:
        """Telegram account -> member id, for the accounts of active members. Read in the
        transaction that writes: whoever is no longer active writes nothing."""
        if not accounts:
            return {}
        return dict((await self.session.execute(
            select(MemberRow.account_id, MemberRow.id)
            .where(one_of(MemberRow.account_id, accounts), MemberRow.active.is_(True)))).all())

    async def add_many(self, check_ins: Sequence[CheckIn]) -> list[CheckIn]:
        """Record the check-ins, in order, each with its new id."""
        records = list(check_ins)
        # One multi-row INSERT per round. SQLite returns its rows in no set order, so each
        # round holds a member at most once and its ids are told apart by member; a member's
        # second check-in goes in the next round, and so gets the later id.
        rounds: list[list[int]] = []
        seen: Counter[int] = Counter()
        for n, record in enumerate(records):
            if seen[record.member_id] == len(rounds):
                rounds.append([])
            rounds[seen[record.member_id]].append(n)
            seen[record.member_id] += 1
        for round_ in rounds:
            ids = dict((await self.session.execute(
                insert(_CHECK_INS).returning(_CHECK_INS.c.member_id, _CHECK_INS.c.id),
                [_values(records[n]) for n in round_])).all())
            for n in round_:
                records[n] = replace(records[n], id=ids[records[n].member_id])
        return records

    async def open_deals(self, pairs: Collection[tuple[int, int]]) -> list[OpenDeal]:
        """The open opportunities of each (owner, customer) pair: one query for a batch."""
        if not pairs:
            return []
        owners, customers = {o for o, _ in pairs}, {c for _, c in pairs}
        rows = await self.session.execute(
            select(OpportunityRow.id, OpportunityRow.owner_id, OpportunityRow.customer_id,
                   OpportunityRow.title)
            .where(one_of(OpportunityRow.owner_id, owners),
                   one_of(OpportunityRow.customer_id, customers),
                   OpportunityRow.closed_at.is_(None)))
        # Owners x customers may hold pairs nobody asked about.
        return [OpenDeal(*row) for row in rows if (row.owner_id, row.customer_id) in pairs]

    async def assign(self, check_in: CheckIn) -> bool:
        """Write the customer, distance and opportunity of a check-in that had no customer;
        False when it has one by now (someone pressed first)."""
        result = await self.session.execute(
            update(_CHECK_INS).where(_CHECK_INS.c.id == check_in.id,
                                     _CHECK_INS.c.customer_id.is_(None))
            .values(customer_id=check_in.customer_id, distance_m=check_in.distance_m,
                    opportunity_id=check_in.opportunity_id))
        return result.rowcount == 1

    async def get(self, check_in_id: int) -> CheckIn | None:
        row = await self.session.get(CheckInRow, check_in_id)
        return None if row is None else _check_in(row)

    async def update(self, check_in: CheckIn) -> None:
        await self.session.execute(
            update(CheckInRow).where(CheckInRow.id == check_in.id).values(**_values(check_in)))

    async def latest(self, member_id: int, since: datetime) -> CheckIn | None:
        row = await self.session.scalar(
            select(CheckInRow).where(CheckInRow.member_id == member_id, CheckInRow.at >= since)
            .order_by(CheckInRow.at.desc(), CheckInRow.id.desc()).limit(1))
        return None if row is None else _check_in(row)

    async def close_before(self, check_ins: Sequence[CheckIn], since: timedelta) -> None:
        """Check each check-in's member out, at its time, of their visits still open that
        began less than `since` before it and were recorded before it."""
        if not check_ins:
            return
        await self.session.execute(_CLOSE_BEFORE, [
            {"member": c.member_id, "since": c.at - since, "before": c.id, "closed": c.at}
            for c in check_ins])

    async def by_message(self, chat_id: int, message_id: int) -> CheckIn | None:
        row = await self.session.scalar(
            select(CheckInRow).where(CheckInRow.chat_id == chat_id,
                                     CheckInRow.message_id == message_id)
            .order_by(CheckInRow.id.desc()).limit(1))
        return None if row is None else _check_in(row)


def _photo(row: VisitPhotoRow) -> VisitPhoto:
    return VisitPhoto(row.id, row.member_id, row.check_in_id, row.sha256, int(row.dhash, 16),
                      row.file_id, row.as_document, row.width, row.height, row.size,
                      Exif(row.taken_at, row.exif_lat, row.exif_lon),
                      frozenset(f for f in row.flags.split(",") if f), row.created_at)


class SqlVisitPhotoRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, photo: VisitPhoto) -> VisitPhoto:
        row = VisitPhotoRow(
            member_id=photo.member_id, check_in_id=photo.check_in_id, sha256=photo.sha256,
            dhash=f"{photo.dhash:016x}", file_id=photo.file_id, as_document=photo.as_document,
            width=photo.width, height=photo.height, size=photo.size,
            taken_at=photo.exif.taken_at, exif_lat=photo.exif.lat, exif_lon=photo.exif.lon,
            flags=",".join(sorted(photo.flags)), created_at=photo.created_at)
        self.session.add(row)
        await self.session.flush()
        return _photo(row)

    async def get(self, photo_id: int) -> VisitPhoto | None:
        row = await self.session.get(VisitPhotoRow, photo_id)
        return None if row is None else _photo(row)

    async def attach(self, photo_id: int, check_in_id: int, flags: frozenset[str]) -> None:
        await self.session.execute(
            update(VisitPhotoRow).where(VisitPhotoRow.id == photo_id).values(
                check_in_id=check_in_id, flags=",".join(sorted(flags))))

    async def remove(self, photo_id: int) -> None:
        await self.session.execute(delete(VisitPhotoRow).where(VisitPhotoRow.id == photo_id))

    async def on_check_in(self, check_in_id: int) -> list[VisitPhoto]:
        rows = await self.session.scalars(
            select(VisitPhotoRow).where(VisitPhotoRow.check_in_id == check_in_id)
            .order_by(VisitPhotoRow.id))
        return [_photo(r) for r in rows]

    async def hashes_elsewhere(self, check_in_id: int | None) -> list[int]:
        query = select(VisitPhotoRow.dhash).where(VisitPhotoRow.check_in_id.is_not(None))
        if check_in_id is not None:
            query = query.where(or_(VisitPhotoRow.check_in_id != check_in_id))
        return [int(h, 16) for h in await self.session.scalars(query)]


_CUSTOMER_COLUMNS = (CustomerRow.id, CustomerRow.key, CustomerRow.name, CustomerRow.address,
                     CustomerRow.lat, CustomerRow.lon, CustomerRow.radius_m)


class SqlCustomerSites:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def within(self, box: BoundingBox) -> list[Customer]:
        # Plain columns, not ORM objects: a box in a dense city can hold thousands of rows.
        query = select(*_CUSTOMER_COLUMNS).where(CustomerRow.lat.between(box.min_lat, box.max_lat))
        # A box across the antimeridian wraps: its longitudes are two ranges.
        if box.min_lon < -180.0:
            query = query.where(or_(CustomerRow.lon >= box.min_lon + 360.0,
                                    CustomerRow.lon <= box.max_lon))
        elif box.max_lon > 180.0:
            query = query.where(or_(CustomerRow.lon >= box.min_lon,
                                    CustomerRow.lon <= box.max_lon - 360.0))
        else:
            query = query.where(CustomerRow.lon.between(box.min_lon, box.max_lon))
        return [Customer(*row) for row in await self.session.execute(query)]

    async def in_parts(self, size: int) -> AsyncIterator[list[Customer]]:
        # A part at a time: with 100,000 customers, other updates go on while they are read.
        result = await self.session.stream(select(*_CUSTOMER_COLUMNS))
        async for part in result.partitions(size):
            yield [Customer(*row) for row in part]

    async def largest_radius_m(self) -> float:
        return float(await self.session.scalar(select(func.max(CustomerRow.radius_m))) or 0)

    async def many(self, customer_ids: Collection[int]) -> dict[int, Customer]:
        if not customer_ids:
            return {}
        # Plain columns, as `within`: a team's day can touch a thousand customers.
        rows = await self.session.execute(
            select(*_CUSTOMER_COLUMNS).where(one_of(CustomerRow.id, customer_ids)))
        return {row.id: Customer(*row) for row in rows}
