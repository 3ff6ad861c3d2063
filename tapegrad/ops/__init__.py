"""Operations by family; each module keeps a forward beside its gradient rule and lists its names in __all__."""

from . import elementwise, index, linalg, reduce, shape, sort  # noqa: F401  (importing registers Tensor methods)
