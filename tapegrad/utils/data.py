"""Datasets and data loading (``torch.utils.data``)."""
