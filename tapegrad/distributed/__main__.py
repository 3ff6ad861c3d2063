"""``python -m tapegrad.distributed`` is ``python -m tapegrad.distributed.run``."""

from .run import main

main()
