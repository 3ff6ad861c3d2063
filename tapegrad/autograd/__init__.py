"""Automatic differentiation: the engine, grad modes, custom Functions and gradient checking."""

from . import anomaly, grad_mode, graph
from .anomaly import (
           AnomalyWarning,
           detect_anomaly,
           is_anomaly_check_nan_enabled,
           is_anomaly_enabled,
           set_detect_anomaly,
)
from .engine import backward, grad
from .function import Function, FunctionCtx
from .functional import hessian, hvp, jacobian, vjp
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .variable import Variable

__all__ = ["AnomalyWarning", "anomaly", "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
           "is_anomaly_check_nan_enabled", "Function", "FunctionCtx", "GradcheckError", "backward", "enable_grad",
           "grad", "grad_mode", "gradcheck", "gradgradcheck", "graph", "hessian", "hvp", "inference_mode",
           "is_grad_enabled", "jacobian", "no_grad", "set_grad_enabled", "Variable", "vjp"]
