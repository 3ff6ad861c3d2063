"""``torch.nn.utils.parametrizations``: the parametrizations built on ``nn.utils.parametrize``.

tapegrad has ``weight_norm``; ``spectral_norm`` and ``orthogonal`` are not written yet.
"""

from .parametrize import weight_norm

__all__ = ["weight_norm"]
