"""The information center: notifications, the inbox and outbox, team groups, reminders and
digests."""
