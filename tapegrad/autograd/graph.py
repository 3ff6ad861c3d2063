"""``torch.autograd.graph``: what code outside the tape may tell it.

``increment_version(tensor)`` announces a write into a tensor's memory that tapegrad did not see (an
optimizer's update through ``.numpy()``), so that a recorded op which saved the old values refuses to backward.
"""

from .inplace import increment_version

__all__ = ["increment_version"]
