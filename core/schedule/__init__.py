"""The schedule module: plans, work logs, check-ins, the calendar and the team's day."""
