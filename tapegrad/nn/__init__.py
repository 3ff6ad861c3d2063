"""Neural-network building blocks: Module, layers, losses, init (``torch.nn``)."""

from . import functional  # noqa: F401
