"""GradScaler: PyTorch's dynamic loss scaling, the same numbers on the CPU.

On the CPU (``GradScaler("cpu")``) it really scales, as PyTorch 2.13 does: ``scale(loss)`` multiplies by the
float32 scale, ``unscale_``/``step`` multiply each gradient by the float32 reciprocal and skip
``optimizer.step()`` when a gradient holds an inf or NaN, and ``update`` backs off or grows the scale. With
``enabled=False``, and for ``device="cuda"`` (the default, so ``torch.cuda.amp.GradScaler()`` too), which warns
that CUDA is not available and disables itself as a CPU-only PyTorch does, every method is a passthrough.
"""

import warnings
from collections import abc, defaultdict
from enum import Enum
from typing import Any

import numpy as np

from .. import dtypes
from .._tensor import Tensor
from ..autograd import grad_mode
from ..creation import full

__all__ = ["OptState", "GradScaler"]


class OptState(Enum):
    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _refresh_per_optimizer_state():
    return {"stage": OptState.READY, "found_inf_per_device": {}}


class GradScaler:
    """GradScaler(device='cuda', init_scale=2.**16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
    enabled=True): scales the loss so small gradients survive reduced precision, and undoes it before the step.

    >>> import tapegrad as tg
    >>> w = tg.nn.Parameter(tg.tensor([1.0]))
    >>> opt = tg.optim.SGD([w], lr=0.1)
    >>> scaler = tg.amp.GradScaler("cpu", init_scale=1024.0)
    >>> scaler.scale((w * 3).sum()).backward()   # w.grad is 3 * 1024
    >>> scaler.step(opt)                          # unscales to 3, then steps
    >>> scaler.update()
    >>> w, scaler.get_scale()
    (Parameter containing:
    tensor([0.7000], requires_grad=True), 1024.0)
    """

    def __init__(self, device: str = "cuda", init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True) -> None:
        self._device = device
        self._enabled = enabled
        if self._device == "cuda" and enabled:
            warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling.",
                          stacklevel=2)
            self._enabled = False
        if self._enabled:
            if growth_factor <= 1.0:
                raise AssertionError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise AssertionError("The backoff factor must be < 1.0.")
            self._init_scale = init_scale
            self._scale: Tensor | None = None  # made on the first scale() call, as in PyTorch
            self._growth_factor = growth_factor
            self._backoff_factor = backoff_factor
            self._growth_interval = growth_interval
            self._init_growth_tracker = 0
            self._growth_tracker: Tensor | None = None
            self._per_optimizer_states: defaultdict[int, dict[str, Any]] = defaultdict(_refresh_per_optimizer_state)

    def _check_scale_growth_tracker(self, funcname: str) -> tuple[Tensor, Tensor]:
        fix = "This may indicate your script did not use scaler.scale(loss or outputs) earlier in the iteration."
        if self._scale is None:
            raise AssertionError(f"Attempted {funcname} but _scale is None.  " + fix)
        if self._growth_tracker is None:
            raise AssertionError(f"Attempted {funcname} but _growth_tracker is None.  " + fix)
        return self._scale, self._growth_tracker

    def _lazy_init_scale_growth_tracker(self):
        self._scale = full((), self._init_scale, dtype=dtypes.float32)
        self._growth_tracker = full((), self._init_growth_tracker, dtype=dtypes.int32)

    def scale(self, outputs):
        """scale(outputs): ``outputs`` (a tensor, or nested lists/tuples/iterables of them) times the scale.

        Returns ``outputs`` unchanged when the scaler is disabled.
        """
        if not self._enabled:
            return outputs

        def apply_scale(val):
            if isinstance(val, Tensor):
                if self._scale is None:
                    self._lazy_init_scale_growth_tracker()
                return val * self._scale
            if isinstance(val, abc.Iterable):
                iterable = map(apply_scale, val)
                if isinstance(val, (list, tuple)):
                    return type(val)(iterable)
                return iterable
            raise ValueError("outputs must be a Tensor or an iterable of Tensors")

        return apply_scale(outputs)

    def _unscale_grads_(self, optimizer, inv_scale, allow_fp16):
        # NOTE: PyTorch's CPU kernel: found_inf = 1 if any element is inf/NaN; every element is multiplied by
        # the float32 inverse scale in the gradient's dtype (a float64 gradient by that float32 value).
        found_inf = False
        with grad_mode.no_grad():
            for group in optimizer.param_groups:
                for param in group["params"]:
                    if not isinstance(param, Tensor):
                        raise AssertionError(f"expected param to be torch.Tensor, got {type(param).__name__}")
                    if param.grad is None:
                        continue
                    if not allow_fp16 and param.grad.dtype == dtypes.float16:
                        raise ValueError("Attempting to unscale FP16 gradients.")
                    grad = param.grad
                    if not np.isfinite(grad.detach().numpy()).all():
                        found_inf = True
                    if inv_scale != 1.0:
                        grad.mul_(full((), inv_scale, dtype=dtypes.float32))
        return {self._scale.device: full((), float(found_inf), dtype=dtypes.float32)}

    def unscale_(self, optimizer) -> None:
        """unscale_(optimizer): divide ``optimizer``'s gradients by the scale (in place), e.g. before clipping.

        At most once per optimizer between ``update()`` calls; ``step`` calls it when it was not called.
        """
        if not self._enabled:
            return
        scale, _ = self._check_scale_growth_tracker("unscale_")
        optimizer_state = self._per_optimizer_states[id(optimizer)]
        if optimizer_state["stage"] is OptState.UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        elif optimizer_state["stage"] is OptState.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        # NOTE: as PyTorch, the reciprocal is taken in float64, then rounded to float32.
        inv_scale = float(np.float32(1.0 / np.float64(scale.item())))
        optimizer_state["found_inf_per_device"] = self._unscale_grads_(optimizer, inv_scale, False)
        optimizer_state["stage"] = OptState.UNSCALED

    def _maybe_opt_step(self, optimizer, optimizer_state, *args, **kwargs):
        if not sum(v.item() for v in optimizer_state["found_inf_per_device"].values()):
            return optimizer.step(*args, **kwargs)
        return None

    def step(self, optimizer, *args, **kwargs):
        """step(optimizer, *args, **kwargs): unscale (unless ``unscale_`` was called), then ``optimizer.step()``
        unless a gradient is inf or NaN. Returns what ``optimizer.step`` returned (None when skipped)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        self._check_scale_growth_tracker("step")
        optimizer_state = self._per_optimizer_states[id(optimizer)]
        if optimizer_state["stage"] is OptState.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if optimizer_state["stage"] is OptState.READY:
            self.unscale_(optimizer)
        if len(optimizer_state["found_inf_per_device"]) == 0:
            raise AssertionError("No inf checks were recorded for this optimizer.")
        retval = self._maybe_opt_step(optimizer, optimizer_state, *args, **kwargs)
        optimizer_state["stage"] = OptState.STEPPED
        return retval

    def update(self, new_scale=None) -> None:
        """update(new_scale=None): back off the scale if any step was skipped, grow it after ``growth_interval``
        clean steps in a row; or set it to ``new_scale`` (a float or a one-element tensor)."""
        if not self._enabled:
            return
        _scale, _growth_tracker = self._check_scale_growth_tracker("update")
        if new_scale is not None:
            if isinstance(new_scale, float):
                _scale.fill_(new_scale)
            else:
                reason = ("new_scale should be a float or a 1-element torch.cuda.FloatTensor or "
                          "torch.FloatTensor with requires_grad=False.")
                if not isinstance(new_scale, Tensor) or new_scale.device.type != self._device:
                    raise AssertionError(reason)
                if new_scale.numel() != 1 or new_scale.requires_grad:
                    raise AssertionError(reason)
                _scale.fill_(new_scale.item())
        else:
            found_infs = [found_inf for state in self._per_optimizer_states.values()
                          for found_inf in state["found_inf_per_device"].values()]
            if len(found_infs) == 0:
                raise AssertionError("No inf checks were recorded prior to update.")
            found_inf = sum(f.item() for f in found_infs)
            self._update_scale(found_inf)
        self._per_optimizer_states = defaultdict(_refresh_per_optimizer_state)

    def _update_scale(self, found_inf):
        # NOTE: PyTorch's _amp_update_scale_: the float32 scale times a double factor, rounded back to float32;
        # growth is skipped if it would overflow float32.
        scale = np.float64(self._scale.item())
        tracker = int(self._growth_tracker.item())
        if found_inf:
            self._scale.fill_(float(np.float32(scale * self._backoff_factor)))
            tracker = 0
        else:
            successful = tracker + 1
            if successful == self._growth_interval:
                with np.errstate(over="ignore"):
                    grown = np.float32(scale * self._growth_factor)
                if np.isfinite(grown):
                    self._scale.fill_(float(grown))
                tracker = 0
            else:
                tracker = successful
        self._growth_tracker.fill_(tracker)

    def _get_scale_async(self):
        return self._scale

    def get_scale(self) -> float:
        """get_scale() -> float: the current scale (``init_scale`` before the first ``scale``; 1.0 if disabled)."""
        if self._enabled:
            return self._init_scale if self._scale is None else float(self._scale.item())
        return 1.0

    def get_growth_factor(self) -> float:
        """get_growth_factor() -> float."""
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        """set_growth_factor(new_factor)."""
        self._growth_factor = new_factor

    def get_backoff_factor(self) -> float:
        """get_backoff_factor() -> float."""
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        """set_backoff_factor(new_factor)."""
        self._backoff_factor = new_factor

    def get_growth_interval(self) -> int:
        """get_growth_interval() -> int."""
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        """set_growth_interval(new_interval)."""
        self._growth_interval = new_interval

    def _get_growth_tracker(self) -> int:
        if self._enabled:
            return self._init_growth_tracker if self._growth_tracker is None else int(self._growth_tracker.item())
        return 0

    def is_enabled(self) -> bool:
        """is_enabled() -> bool: False when made with ``enabled=False`` (or for CUDA, which tapegrad lacks)."""
        return self._enabled

    def state_dict(self) -> dict:
        """state_dict() -> dict: ``scale``, ``growth_factor``, ``backoff_factor``, ``growth_interval`` and
        ``_growth_tracker`` (plain Python numbers); ``{}`` when disabled."""
        if self._enabled:
            return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                    "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                    "_growth_tracker": self._get_growth_tracker()}
        return {}

    def load_state_dict(self, state_dict: dict) -> None:
        """load_state_dict(state_dict): restore what ``state_dict()`` returned (a no-op when disabled)."""
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        self._init_scale = state_dict["scale"]
        if self._scale is not None:
            self._scale.fill_(state_dict["scale"])
        self._growth_factor = state_dict["growth_factor"]
        self._backoff_factor = state_dict["backoff_factor"]
        self._growth_interval = state_dict["growth_interval"]
        self._init_growth_tracker = state_dict["_growth_tracker"]
        if self._growth_tracker is not None:
            self._growth_tracker.fill_(state_dict["_growth_tracker"])

    def __getstate__(self):
        state = self.__dict__.copy()
        if self._enabled:
            if len(self._per_optimizer_states) != 0:
                raise AssertionError("A GradScaler instance may only be pickled at the beginning "
                                     "of an iteration, or at the end after scaler.update().")
            state["_init_scale"] = self.get_scale()
            state["_init_growth_tracker"] = self._get_growth_tracker()
            state["_scale"] = None
            state["_growth_tracker"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    def _check_inf_per_device(self, optimizer):
        self._check_scale_growth_tracker("_check_inf_per_device")
        found = self._unscale_grads_(optimizer, 1.0, True)
        self._per_optimizer_states[id(optimizer)]["found_inf_per_device"] = found
        return found

    def _found_inf_per_device(self, optimizer):
        return self._per_optimizer_states[id(optimizer)]["found_inf_per_device"]
