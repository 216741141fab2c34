"""The Mini App's views: each module brings its JSON routes and the words its page uses."""

from __future__ import annotations

from web.views import approvals, money, pipeline, today

_VIEWS = (today, approvals, money, pipeline)
ROUTERS = [view.router for view in _VIEWS]
STRINGS = tuple(message for view in _VIEWS for message in view.STRINGS)
