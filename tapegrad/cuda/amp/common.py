"""``torch.cuda.amp.common``: ``amp_definitely_not_available``, and the deprecation warning of the module's
spellings."""

import warnings

__all__ = ["amp_definitely_not_available"]


def _deprecated(old, new):
    warnings.warn(f"`torch.cuda.amp.{old}(args...)` is deprecated. Please use `{new}` instead.", FutureWarning,
                  stacklevel=3)


def amp_definitely_not_available():
    """amp_definitely_not_available() -> True: CUDA is not available."""
    return True
