"""The expenses module: claims, approvals, budgets, statistics, export and the finance interface."""
