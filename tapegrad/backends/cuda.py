"""torch.backends.cuda: the TF32 flags scripts set (``backends.cuda.matmul.allow_tf32 = True``) are kept."""

import types

matmul = types.SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True)


def is_built():
    """is_built() -> False: tapegrad has no CUDA support built in."""
    return False
