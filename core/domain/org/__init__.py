"""The organisation's rules: the department tree, roles, permissions, invites, the org file."""
