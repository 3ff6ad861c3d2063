"""torch.backends.cudnn: cuDNN is not available; its flags keep the values scripts set (with no effect).

``import tapegrad.backends.cudnn as cudnn`` then ``cudnn.benchmark = True`` and ``cudnn.deterministic = True``
work as in PyTorch. tapegrad's numpy computations are deterministic whatever the flags say.
"""

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available():
    """is_available() -> False."""
    return False


def version():
    """version() -> None: no cuDNN library is loaded."""
    return None
