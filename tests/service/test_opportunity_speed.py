"""An opportunity's card reads what it shows in a fixed number of statements, whatever the
timeline holds: the viewer, the deal, its owner, the departments, the settings, and one read
of the timeline's sources with the claim totals and the photo count."""

from __future__ import annotations

from sqlalchemy import event

from tests.service.test_opportunity_card import (  # noqa: F401 (fixtures)
    ERIN,
    FIONA,
    a_week,
    service,
)

CARD_STATEMENTS = 6


def counted(database) -> list[str]:
    """The SELECTs the database is sent from now on."""
    statements: list[str] = []

    @event.listens_for(database.engine.sync_engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append(statement)

    return statements


async def test_a_card_page_is_read_in_six_statements(service, org, clock):  # noqa: F811
    opp_id, _ = await a_week(service, org, clock)
    statements = counted(org)
    for account_id in (ERIN, FIONA):
        for page in (0, 1):
            statements.clear()
            card = await service.card(account_id, opp_id, page)
            assert card.timeline
            assert len(statements) == CARD_STATEMENTS
    assert card.money_visible and card.claim_totals and card.photos == 2
