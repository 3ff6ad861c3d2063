"""IEEE overflow, division by zero and invalid operations give inf and NaN silently, as in PyTorch.

numpy warns on them ("overflow encountered in multiply", a RuntimeWarning). Importing this module adds one warnings
filter that ignores those messages where tapegrad's own modules called the ufunc (and numpy's ndarray reduction
methods, which tapegrad calls): it costs nothing until a ufunc warns, so ``torch.log(zeros(1))`` is as quiet as
PyTorch's, also under ``python -W error``; numpy's functions and ufuncs called from other code warn as before
(README, "Where tapegrad differs from PyTorch").
"""

import warnings

# NOTE: also numpy's ndarray reduction methods (``a.sum()``, ``a.mean()``, ``a.var()``: numpy._core._methods, where
# numpy's Python code calls the ufunc), which tapegrad's ops call in hundreds of places; numpy's functions
# (``np.sum``) and ufuncs called from other code warn as before, so tapegrad calls the ufunc's method
# (``np.add.reduce``), the array's (``a.cumsum()``), or numpy's function under ``np.errstate``
MESSAGE = r"(overflow|underflow|divide by zero|invalid value) encountered in"
MODULE = r"(tapegrad|numpy\._core\._methods)(\.|$)"
warnings.filterwarnings("ignore", MESSAGE, RuntimeWarning, MODULE)
