"""torch.backends.mps: Apple's Metal backend is not available in tapegrad."""


def is_available():
    """is_available() -> False."""
    return False


def is_built():
    """is_built() -> False: tapegrad has no MPS support built in."""
    return False
