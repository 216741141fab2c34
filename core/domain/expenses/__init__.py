"""Expense rules: claims and their states, the approval route, budgets and the overrun
policy, statistics, the finance ledger."""
