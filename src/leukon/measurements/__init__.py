"""Measurements: the contract between source adapters and the kernel (one row a result), unit
normalisation to canonical units, value checks and duplicate resolution."""
