"""A company-sized org file: compared in memory, written in bulk and in short transactions
(SQLite and PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bot.org_file import parse_org_file
from core.domain.org.model import OrgTree
from core.domain.org.org_file import OrgFileError
from core.org import membership
from core.org.membership import OrgService
from storage import tables
from tests.example_org import DEFAULTS
from tests.service.test_org import snapshot


def company(branches: int = 8, reps: int = 6, customers: int = 300) -> dict:
    """A head office, two regions, areas and branches (four levels), each headed by one of
    its members; reps in the branches, customers, projects, budgets and goals."""
    departments = [{"key": "hq", "name": "Head office", "manager": "head-hq"}]
    for r in range(2):
        departments.append({"key": f"r{r}", "name": f"Region {r}", "parent": "hq",
                            "manager": f"head-r{r}"})
        for a in range(2):
            area = f"r{r}a{a}"
            departments.append({"key": area, "name": f"Area {area}", "parent": f"r{r}",
                                "manager": f"head-{area}"})
            for b in range(branches // 4):
                branch = f"{area}b{b}"
                departments.append({"key": branch, "name": f"Branch {branch}", "parent": area,
                                    "manager": f"head-{branch}"})
    # Children listed before their parents: the import orders them.
    departments.reverse()
    members = [{"key": f"head-{d['key']}", "name": f"Head of {d['name']}",
                "telegram_id": 50_000 + n, "department": d["key"], "roles": ["manager"]}
               for n, d in enumerate(departments)]
    branch_keys = [d["key"] for d in departments if "b" in d["key"]]
    members += [{"key": f"rep-{b}-{n}", "name": f"Rep {n} of {b}", "username": f"rep_{b}_{n}",
                 "department": b} for b in branch_keys for n in range(reps)]
    return {
        "org": {"name": "Harbor Trading Co.", "timezone": "Asia/Shanghai", "currency": "CNY"},
        "departments": departments,
        "members": members,
        "projects": [{"key": f"p-{b}", "name": f"Rollout {b}", "department": b,
                      "members": [f"rep-{b}-0", f"rep-{b}-1"]} for b in branch_keys],
        "customers": [{"key": f"c{n}", "name": f"Customer {n}", "address": f"{n} Bund Road",
                       "lat": 31.0 + n / 10_000, "lon": 121.0 + n / 10_000}
                      for n in range(customers)],
        "budgets": [{"unit": f"department:{d['key']}", "period": "2026-Q4", "amount": 10_000}
                    for d in departments]
        + [{"unit": f"project:p-{b}", "period": "2026", "amount": 5_000} for b in branch_keys],
        "goals": [{"unit": f"member:{m['key']}", "metric": "visits", "period": "2026-12",
                   "target": 20} for m in members],
    }


SIZES = {"departments": 15, "members": 15 + 8 * 6, "projects": 8, "customers": 300,
         "budgets": 15 + 8, "goals": 15 + 8 * 6}


@pytest.fixture
def org(database, clock) -> OrgService:
    return OrgService(database.uow, clock, DEFAULTS)


@pytest.fixture
def small_chunks(monkeypatch):
    """Transactions of seven rows, so that every section takes several."""
    monkeypatch.setattr(membership, "WRITE_CHUNK", 7)


async def test_a_company_is_created_then_found_unchanged(org, database, small_chunks):
    report = await org.import_org(parse_org_file(company()))
    assert dict(report.created) == {"org": 1, **SIZES}
    assert not report.updated.total()
    before = await snapshot(database)
    again = await org.import_org(parse_org_file(company()))
    assert not again.changed
    assert dict(again.unchanged) == {"org": 1, **SIZES}
    assert await snapshot(database) == before
    async with database.uow(read_only=True) as uow:
        tree = OrgTree.of(await uow.departments.all())
        branch = await uow.departments.by_key("r1a1b1")
        head = await uow.members.by_key("head-r1a1b1")
        project = await uow.projects.by_key("p-r1a1b1")
        reps = {m.key: m.id for m in await uow.members.all() if m.key.startswith("rep-r1a1b1")}
    assert [d.key for d in tree.ancestors(branch.id)] == ["r1a1", "r1", "hq"]
    assert branch.manager_id == head.id and head.department_id == branch.id
    assert project.member_ids == {reps["rep-r1a1b1-0"], reps["rep-r1a1b1-1"]}


async def test_changes_are_counted_and_written_and_the_rest_left_alone(org, database,
                                                                      small_chunks):
    await org.import_org(parse_org_file(company()))
    data = company()
    data["customers"][5]["name"] = "Customer 5 (moved)"
    data["customers"][250]["lat"] = 31.5
    data["customers"].append({"key": "c-new", "name": "Newcomer Ltd", "lat": 30.0, "lon": 120.0})
    rep = next(m for m in data["members"] if m["key"] == "rep-r0a0b0-3")
    rep["department"] = "r1a1b1"
    data["budgets"][0]["amount"] = 12_345
    report = await org.import_org(parse_org_file(data))
    assert report.created == {"customers": 1}
    assert report.updated == {"customers": 2, "members": 1, "budgets": 1}
    assert report.unchanged["customers"] == 298
    assert report.unchanged["members"] == SIZES["members"] - 1
    async with database.uow(read_only=True) as uow:
        moved = await uow.members.by_key("rep-r0a0b0-3")
        branch = await uow.departments.by_key("r1a1b1")
        customers = {c.key: c for c in await uow.customers.all()}
        budget = await uow.budgets.find("department", (await uow.departments.by_key(
            data["budgets"][0]["unit"].split(":")[1])).id, None, "2026-Q4")
    assert moved.department_id == branch.id
    assert customers["c5"].name == "Customer 5 (moved)" and customers["c250"].lat == 31.5
    assert customers["c-new"].name == "Newcomer Ltd" and len(customers) == 301
    assert budget.amount == Decimal("12345.00")


async def test_a_bad_entry_in_the_middle_changes_nothing(org, database, small_chunks):
    await org.import_org(parse_org_file(company()))
    before = await snapshot(database)
    data = company()
    for customer in data["customers"]:
        customer["name"] += " (renamed)"
    data["members"][30]["department"] = "atlantis"
    with pytest.raises(OrgFileError, match=r'members\[\S+\]\.department: unknown department'):
        await org.import_org(parse_org_file(data))
    assert await snapshot(database) == before


class Crash(Exception):
    """The process stopping half way through writing."""


def crashing_after(database, commits: int):
    """Units of work whose writes stop after `commits` of them were committed."""
    done = 0

    def uows(*, read_only: bool = False):
        uow = database.uow(read_only=read_only)
        if read_only:
            return uow
        commit = uow.commit

        async def counted() -> None:
            nonlocal done
            if done == commits:
                raise Crash()
            done += 1
            await commit()

        uow.commit = counted
        return uow

    return uows


async def test_an_import_stopped_half_way_is_completed_by_importing_again(
        database, clock, small_chunks, tmp_path):
    whole = OrgService(database.uow, clock, DEFAULTS)
    with pytest.raises(Crash):
        await OrgService(crashing_after(database, 12), clock, DEFAULTS).import_org(
            parse_org_file(company()))
    async with database.uow(read_only=True) as uow:
        written = await uow.session.scalar(select(func.count()).select_from(tables.MemberRow))
    assert 0 < written < SIZES["members"]
    await whole.import_org(parse_org_file(company()))
    completed = await snapshot(database)
    assert not (await whole.import_org(parse_org_file(company()))).changed
    assert len(completed["customers"]) == 300
    assert len(completed["members"]) == SIZES["members"]
    async with database.uow(read_only=True) as uow:
        departments = await uow.departments.all()
    assert all(d.parent_id is not None for d in departments if d.key != "hq")
    assert all(d.manager_id is not None for d in departments)


async def test_changed_customers_reload_the_sites(org, database):
    await org.import_org(parse_org_file(company()))
    seen = database.changes.version("customers")
    await org.import_org(parse_org_file(company()))
    assert database.changes.version("customers") == seen
    data = company()
    data["customers"][0]["radius_m"] = 500
    await org.import_org(parse_org_file(data))
    assert database.changes.version("customers") > seen
