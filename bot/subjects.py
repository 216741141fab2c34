"""What a notification's subject lets its reader do now: each module registers its subjects.

An approval request opened from the inbox shows Approve / Reject while the claim waits, and
the decision once it is made. The expenses module registers a viewer for its subject type:

    @shows("expense_claim")
    async def claim_actions(context, notification) -> SubjectView: ...

The viewer reads the subject's current state through a core service (never the payload,
which is a snapshot from when the notification was made). Its buttons carry their own
callback data, so the module's handler must re-check the presser and the state on press.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton

from core.domain.inbox.notifications import Notification

if TYPE_CHECKING:
    from bot.context import CrmContext


@dataclass(frozen=True)
class SubjectView:
    """A status line (HTML, already escaped) and rows of action buttons; both optional."""

    status: str | None = None
    buttons: list[list[InlineKeyboardButton]] = field(default_factory=list)


SubjectViewer = Callable[["CrmContext", Notification], Awaitable[SubjectView]]

# subject_type -> viewer; filled by the modules' handler modules as they are imported.
VIEWERS: dict[str, SubjectViewer] = {}


def shows(subject_type: str) -> Callable[[SubjectViewer], SubjectViewer]:
    """Register the viewer of one subject type."""

    def register(viewer: SubjectViewer) -> SubjectViewer:
        VIEWERS[subject_type] = viewer
        return viewer

    return register


async def view(context: CrmContext, notification: Notification) -> SubjectView:
    """What the subject allows now; nothing when no module registered its type."""
    viewer = VIEWERS.get(notification.subject_type or "")
    if viewer is None:
        return SubjectView()
    return await viewer(context, notification)
