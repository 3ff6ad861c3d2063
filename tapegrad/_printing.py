"""Print options, as ``torch.set_printoptions`` sets them.

``Tensor.__repr__`` (``_format`` in ``_tensor.py``) reads them on every call.
"""

import dataclasses
import math


@dataclasses.dataclass
class PrintOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


PRINT_OPTS = PrintOptions()

_PROFILES = {"default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
             "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
             "full": dict(precision=4, threshold=math.inf, edgeitems=3, linewidth=80)}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None,
                     sci_mode=None):
    """set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None,
    sci_mode=None): set the options tensors print with, as PyTorch's.

    ``profile`` ('default', 'short' or 'full') sets the first four at once; the others then override it.
    ``sci_mode`` True or False forces scientific notation on or off; None (the default) chooses.

    >>> import tapegrad as tg
    >>> tg.set_printoptions(precision=2)
    >>> tg.set_printoptions(profile="default")
    """
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: profile must be one of {sorted(_PROFILES)}, got {profile!r}")
        for name, value in _PROFILES[profile].items():
            setattr(PRINT_OPTS, name, value)
    for name, value in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                        ("linewidth", linewidth)):
        if value is not None:
            setattr(PRINT_OPTS, name, value)
    PRINT_OPTS.sci_mode = sci_mode  # as PyTorch: None restores the automatic choice


def get_printoptions():
    """get_printoptions() -> dict: the current print options."""
    return dataclasses.asdict(PRINT_OPTS)
