"""Data parallelism (``torch.nn.parallel``): ``DistributedDataParallel`` over the ranks of
``tapegrad.distributed``, and ``DataParallel`` (the module itself on tapegrad's single CPU device).

    from tapegrad.nn.parallel import DistributedDataParallel as DDP
"""

from .data_parallel import DataParallel
from .distributed import DistributedDataParallel, consume_prefix_in_state_dict_if_present

__all__ = ["DataParallel", "DistributedDataParallel", "consume_prefix_in_state_dict_if_present"]
