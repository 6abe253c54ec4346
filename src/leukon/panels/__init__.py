"""Panels: one row a specimen. Pivot measurements, derive absolute counts from the differential, attach
demographics and the reference range that applies to each value."""
