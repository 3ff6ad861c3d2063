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


# ---------------------------------------------------------------------- PyTorch's layout of a tensor's values
class _Formatter:
    """PyTorch's ``_Formatter`` (torch/_tensor_str.py): one style for every element, from the nonzero finite
    values: integers as ``1.``; scientific when they span more than 1000x, exceed 1e8 or (non-integers) go below
    1e-4; else fixed with ``precision`` digits; every element right-aligned to the widest of those values."""

    def __init__(self, values: list, floating: bool):
        self.floating, self.int_mode, self.sci_mode, self.width = floating, True, False, 1
        p = PRINT_OPTS.precision
        if not floating:
            self.width = max([len(str(v)) for v in values] + [1])
            return
        nonzero = [v for v in values if math.isfinite(v) and v != 0]
        if not nonzero:  # (no valid number: PyTorch keeps the defaults, whatever sci_mode is set to)
            return
        magnitudes = [abs(v) for v in nonzero]
        low, high = min(magnitudes), max(magnitudes)
        self.int_mode = all(v == math.ceil(v) for v in nonzero)
        self.sci_mode = (high / low > 1000.0 or high > 1.0e8 or low < 1.0e-4 if PRINT_OPTS.sci_mode is None
                         else PRINT_OPTS.sci_mode)
        if self.sci_mode:
            self.width = max(len(f"{v:.{p}e}") for v in nonzero)
        elif self.int_mode:
            self.width = max(len(f"{v:.0f}") + 1 for v in nonzero)
        else:
            self.width = max(len(f"{v:.{p}f}") for v in nonzero)

    def format(self, v) -> str:
        p = PRINT_OPTS.precision
        if not self.floating:
            s = str(v)
        elif self.sci_mode:
            s = f"{v:{self.width}.{p}e}"
        elif self.int_mode:
            s = f"{v:.0f}" + ("" if math.isinf(v) or math.isnan(v) else ".")
        else:
            s = f"{v:.{p}f}"
        return s.rjust(self.width)


def _summarized(a, edge):
    """PyTorch's get_summarized_data: ``edge`` items from each end of every dim longer than twice that."""
    if a.ndim == 0:
        return a
    if a.ndim == 1:
        return a if a.shape[0] <= 2 * edge else _np().concatenate([a[:edge], a[-edge:]])
    if not edge:
        return a[(slice(0, 0),) * a.ndim]
    rows = list(range(edge)) + list(range(a.shape[0] - edge, a.shape[0])) if a.shape[0] > 2 * edge \
        else range(a.shape[0])
    return _np().stack([_summarized(a[i], edge) for i in rows])


def _np():
    import numpy  # (this leaf module imports nothing heavy until a tensor prints)

    return numpy


def _values(a) -> list:
    """The array's values as Python numbers (float16 and bfloat16 through float32, as PyTorch prints them)."""
    if _floating(a) and a.dtype.itemsize < 4:
        a = a.astype(_np().float32)
    return a.tolist()


def _floating(a) -> bool:
    return a.dtype.kind == "f" or a.dtype.name == "bfloat16"  # (ml_dtypes' bfloat16 has numpy's kind "V")


def _vector(a, indent, summarize, fmt):
    o = PRINT_OPTS
    per_line = max(1, int(math.floor((o.linewidth - indent) / (fmt.width + 2))))
    if summarize and not o.edgeitems:
        data = ["..."]
    elif summarize and a.shape[0] > 2 * o.edgeitems:
        data = ([fmt.format(v) for v in _values(a[:o.edgeitems])] + [" ..."]
                + [fmt.format(v) for v in _values(a[-o.edgeitems:])])
    else:
        data = [fmt.format(v) for v in _values(a)]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(a, indent, summarize, fmt):
    if a.ndim == 0:
        return fmt.format(_values(a))
    if a.ndim == 1:
        return _vector(a, indent, summarize, fmt)
    edge = PRINT_OPTS.edgeitems
    if summarize and a.shape[0] > 2 * edge:
        slices = ([_nested(a[i], indent + 1, summarize, fmt) for i in range(edge)] + ["..."]
                  + [_nested(a[i], indent + 1, summarize, fmt) for i in range(a.shape[0] - edge, a.shape[0])])
    else:
        slices = [_nested(a[i], indent + 1, summarize, fmt) for i in range(a.shape[0])]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def tensor_str(a, indent: int) -> str:
    """The values part of a tensor's repr, laid out as PyTorch's ``_tensor_str`` lays it out: one formatter for
    all elements (of the summarized data when there are more than ``threshold``), a row wrapped after as many
    elements as fit in ``linewidth`` (the summary marker " ..." counts as one), rows of a matrix on their own
    lines, blank lines between the blocks of higher dims."""
    summarize = a.size > PRINT_OPTS.threshold
    shown = _summarized(a, PRINT_OPTS.edgeitems) if summarize else a
    fmt = _Formatter(_values(shown.reshape(-1)), _floating(a))
    return _nested(a, indent, summarize, fmt)
