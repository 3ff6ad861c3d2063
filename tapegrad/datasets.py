"""Datasets: synthetic sets, handwritten digits, IDX files."""
