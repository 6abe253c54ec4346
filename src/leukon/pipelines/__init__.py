"""Orchestration: `assess` (one CBC, the scalar evaluator) and `screen` (a lab table, the vectorised
kernel), with the accounting of every input row."""
