"""Functional neural-network ops (``torch.nn.functional``)."""
