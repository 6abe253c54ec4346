"""The rule book, as data and plain Python (no Polars): analytes and their codes, units, grading schemes,
reference ranges, the scalar grader, and the declarative rules (derived counts, checks, findings,
warnings) that both evaluators compile."""
