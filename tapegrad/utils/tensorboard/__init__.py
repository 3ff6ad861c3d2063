"""torch.utils.tensorboard: ``SummaryWriter`` writes TensorBoard event files, through tensorboardX.

Needs the ``tensorboard`` extra (``pip install tapegrad[tensorboard]``: tensorboardX, and pillow for images);
importing this module without tensorboardX raises an ImportError that says so, as PyTorch's raises when
TensorBoard is missing.
"""

from ..._optional import require

require("tensorboardX", feature="tapegrad.utils.tensorboard", extra="tensorboard")

from .writer import FileWriter, SummaryWriter  # noqa: E402

__all__ = ["FileWriter", "SummaryWriter"]
