"""The org module: the department tree, members, invites and the org import; who is speaking."""
