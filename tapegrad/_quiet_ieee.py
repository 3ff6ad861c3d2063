"""IEEE overflow, division by zero and invalid operations give inf and NaN silently, as in PyTorch.

numpy warns on them ("overflow encountered in multiply", a RuntimeWarning). Importing this module adds one warnings
filter that ignores those messages where tapegrad's own modules called the ufunc: it costs nothing until a ufunc
warns, so ``torch.log(zeros(1))`` is as quiet as PyTorch's, also under ``python -W error``; numpy code outside
tapegrad warns as before (README, "Where tapegrad differs from PyTorch").
"""

import warnings

warnings.filterwarnings("ignore", r"(overflow|underflow|divide by zero|invalid value) encountered in",
                        RuntimeWarning, r"tapegrad(\.|$)")
