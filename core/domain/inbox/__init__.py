"""Information-center rules: notifications and their delivery, quiet hours, team groups,
scheduled rules (the plan reminder, the digest)."""
