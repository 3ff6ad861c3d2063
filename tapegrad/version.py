"""``torch.version``: the version strings environment reports print (``torch.version.cuda`` is None: CPU only).

>>> import tapegrad as tg
>>> tg.version.cuda is None, tg.version.__version__ == tg.__version__
(True, True)
"""

from ._version import __version__

__all__ = ["__version__", "cuda", "debug", "git_version", "hip", "rocm", "xpu"]

cuda = None  # no CUDA build
hip = None
rocm = None
xpu = None
debug = False
git_version = "unknown"  # PyTorch's build commit; tapegrad does not record one
