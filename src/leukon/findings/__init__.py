"""Findings and grades for a panel: which cytopenias the counts show and their grade under each scheme,
with a reason whenever something cannot be assessed."""
