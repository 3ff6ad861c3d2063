"""tapegrad.onnx: export a model to an ONNX file, with ``torch.onnx.export``'s signature (docs/onnx.md).

The model runs once (twice with ``dynamic_axes``) in eval mode while every public op it calls is recorded with
its arguments; each op becomes ONNX nodes (opset 17 or later), parameters and buffers become initializers, and
the file is checked with ``onnx.checker`` and written atomically. Needs the ``onnx`` package
(``pip install tapegrad[onnx]``).
"""

from __future__ import annotations

import enum
import inspect
import os
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._optional import require
from .._tensor import Tensor
from ..autograd import grad_mode
from ..creation import as_tensor
from ._graph import Graph, _contiguous
from ._ops import OPS
from ._trace import C, Event, OnnxExporterError, Sym, Trace, UnsupportedOperatorError, V, active, patched, tracing

__all__ = ["export", "is_in_onnx_export", "OnnxExporterError", "UnsupportedOperatorError", "TrainingMode"]

_MIN_OPSET, _MAX_OPSET = 17, 21


class TrainingMode(enum.IntEnum):
    """TrainingMode: the mode a model is exported in (PyTorch's ``torch.onnx.TrainingMode``); tapegrad exports
    in eval mode only.

    >>> import tapegrad
    >>> tapegrad.onnx.TrainingMode.EVAL
    <TrainingMode.EVAL: 0>
    """

    EVAL = 0
    PRESERVE = 1
    TRAINING = 2


def is_in_onnx_export() -> bool:
    """is_in_onnx_export() -> bool: True while ``tapegrad.onnx.export`` is tracing a model (in this thread).

    >>> import tapegrad
    >>> tapegrad.onnx.is_in_onnx_export()
    False
    """
    return active()


def export(model, args=(), f=None, *, kwargs: dict | None = None, verbose: bool | None = None,
           input_names: Sequence[str] | None = None, output_names: Sequence[str] | None = None,
           opset_version: int | None = None, dynamo: bool = True, external_data: bool = True,
           dynamic_shapes=None, custom_translation_table=None, report: bool = False, optimize: bool = True,
           verify: bool = False, profile: bool = False, dump_exported_program: bool = False,
           artifacts_dir: str | os.PathLike = ".", export_params: bool = True,
           keep_initializers_as_inputs: bool = False,
           dynamic_axes: Mapping[str, Mapping[int, str]] | Mapping[str, Sequence[int]] | None = None,
           training=None, operator_export_type=None, do_constant_folding: bool = True, custom_opsets=None,
           export_modules_as_functions=False, autograd_inlining: bool = True):
    """export(model, args=(), f=None, *, kwargs=None, input_names=None, output_names=None, opset_version=None,
    dynamic_axes=None, export_params=True, do_constant_folding=True, ...) -> None

    Writes ``model`` as an ONNX model to ``f`` (a path or a binary file object), as ``torch.onnx.export``.
    ``args`` are the example inputs (a tuple, or one tensor; a dict at its end gives keyword arguments, as in
    PyTorch); ``dynamic_axes`` names the axes of inputs and outputs whose size may change
    (``{"x": {0: "batch"}}`` or ``{"x": [0]}``). ``opset_version`` defaults to 17 (17 to 21 are supported).
    The model runs in eval mode. Arguments of PyTorch's dynamo exporter (``dynamo``, ``report``, ``optimize``,
    ``verify``, ``profile``, ``dump_exported_program``, ``artifacts_dir``, ``external_data``,
    ``custom_translation_table``) are accepted and have no effect; ``dynamic_shapes`` is read as ``dynamic_axes``
    when it maps axes to names. With ``f=None`` the ``onnx.ModelProto`` is returned instead of written.

    >>> import tapegrad, io
    >>> buffer = io.BytesIO()
    >>> tapegrad.onnx.export(tapegrad.nn.Linear(3, 2), (tapegrad.randn(4, 3),), buffer,
    ...                      input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    >>> buffer.getvalue()[:2] != b""
    True
    """
    onnx = require("onnx", feature="tapegrad.onnx.export", extra="onnx")
    opset = _MIN_OPSET if opset_version is None else int(opset_version)
    if not _MIN_OPSET <= opset <= _MAX_OPSET:
        raise ValueError(f"tapegrad.onnx.export: opset_version must be between {_MIN_OPSET} and {_MAX_OPSET}, "
                         f"got {opset_version}")
    mode = TrainingMode.EVAL if training is None else TrainingMode(training)
    if mode is TrainingMode.TRAINING or mode is TrainingMode.PRESERVE and getattr(model, "training", False):
        raise NotImplementedError(f"tapegrad.onnx.export: only eval-mode export is supported (training="
                                  f"TrainingMode.EVAL, or PRESERVE of a model in eval mode), got {mode}")
    if custom_opsets or export_modules_as_functions:
        raise NotImplementedError("tapegrad.onnx.export: custom_opsets and export_modules_as_functions are not "
                                  "supported")
    if active():
        raise OnnxExporterError("tapegrad.onnx.export: already exporting a model in this thread")
    args = (args,) if isinstance(args, Tensor) else tuple(args)
    kwargs = dict(kwargs or {})
    if args and isinstance(args[-1], dict) and not kwargs:
        args, kwargs = args[:-1], dict(args[-1])
    flat = [(("arg", i), a) for i, a in enumerate(args) if isinstance(a, Tensor)] + \
           [(("kw", k), v) for k, v in kwargs.items() if isinstance(v, Tensor)]
    names = _input_names(model, args, kwargs, flat, input_names)
    axes = _axes(dynamic_axes if dynamic_axes is not None else _from_dynamic_shapes(dynamic_shapes, names))
    unknown = set(axes) - set(names) - set(output_names or ())
    if unknown and output_names is not None:
        raise ValueError(f"tapegrad.onnx.export: dynamic_axes names {sorted(unknown)}, which are neither input "
                         f"names {names} nor output names {list(output_names)}")

    state = _state(model)
    modes = [(m, m.training) for m in model.modules()] if hasattr(model, "modules") else []
    try:
        if hasattr(model, "eval"):
            model.eval()
        with patched():
            t1, out1 = _run(model, args, kwargs, flat, state)
            args2, kwargs2 = _resized(args, kwargs, flat, names, axes)
            t2, out2 = (t1, out1) if args2 is None else _run(model, args2, kwargs2,
                                                             _flat(args2, kwargs2), state)
    finally:
        for m, mode in modes:
            m.training = mode
    events = _align(t1, t2)
    outs1, outs2 = _flatten_out(out1, t1), _flatten_out(out2, t2)
    if len(outs1) != len(outs2):
        raise OnnxExporterError("tapegrad.onnx.export: the model returns a different number of outputs when the "
                                "dynamic axes change size")
    proto = _build(onnx, t1, t2, events, flat, names, state, outs1, output_names, axes, opset, export_params,
                   keep_initializers_as_inputs)
    if verbose:
        print(onnx.helper.printable_graph(proto.graph))
    if f is None:
        return proto
    _write(proto.SerializeToString(), f)
    return None


# ---------------------------------------------------------------------- arguments
def _input_names(model, args, kwargs, flat, given):
    try:
        params = list(inspect.signature(model.forward if hasattr(model, "forward") else model).parameters)
    except (TypeError, ValueError):
        params = []
    names = []
    for (kind, key), _ in flat:
        if kind == "kw":
            names.append(str(key))
        elif key < len(params) and inspect.signature(
                model.forward if hasattr(model, "forward") else model).parameters[params[key]].kind in (
                inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            names.append(params[key])
        else:
            names.append(f"input_{key}")
    given = list(given or ())
    if len(given) > len(flat):
        raise ValueError(f"tapegrad.onnx.export: {len(given)} input_names given for {len(flat)} tensor inputs")
    names[:len(given)] = given
    if len(set(names)) != len(names):
        raise ValueError(f"tapegrad.onnx.export: input names must be distinct, got {names}")
    return names


def _axes(dynamic_axes):
    out: dict[str, dict[int, str]] = {}
    for name, spec in (dynamic_axes or {}).items():
        if isinstance(spec, Mapping):
            out[name] = {int(k): str(v) for k, v in spec.items()}
        elif isinstance(spec, (list, tuple)):
            out[name] = {int(k): f"{name}_dynamic_axes_{i + 1}" for i, k in enumerate(spec)}
        else:
            raise TypeError(f"tapegrad.onnx.export: dynamic_axes[{name!r}] must be a dict or a list of axes, got "
                            f"{type(spec).__name__}")
    return out


def _from_dynamic_shapes(dynamic_shapes, names):
    if dynamic_shapes is None:
        return None
    items = dynamic_shapes.items() if isinstance(dynamic_shapes, Mapping) else zip(names, dynamic_shapes)
    out = {}
    for name, spec in items:
        if spec is None:
            continue
        if not isinstance(spec, Mapping):
            raise NotImplementedError("tapegrad.onnx.export: dynamic_shapes is read only as {input: {axis: name}}; "
                                      "use dynamic_axes")
        out[name] = {int(k): (v if isinstance(v, str) else getattr(v, "__name__", f"{name}_dim_{k}"))
                     for k, v in spec.items()}
    return out


def _state(model):
    state: dict[int, tuple[str, Tensor]] = {}
    if hasattr(model, "named_parameters"):
        for name, p in model.named_parameters():
            state.setdefault(id(p), (name, p))
        for name, b in model.named_buffers():
            if b is not None:
                state.setdefault(id(b), (name, b))
    return state


def _flat(args, kwargs):
    return [(("arg", i), a) for i, a in enumerate(args) if isinstance(a, Tensor)] + \
           [(("kw", k), v) for k, v in kwargs.items() if isinstance(v, Tensor)]


def _resized(args, kwargs, flat, names, axes):
    """The inputs with every dynamic axis given another size, for the second trace (None: no dynamic input)."""
    symbols = sorted({s for name in names for s in axes.get(name, {}).values()})
    if not symbols:
        return None, None
    delta = {s: i + 1 for i, s in enumerate(symbols)}
    new_args, new_kwargs = list(args), dict(kwargs)
    sizes: dict[str, tuple[int, int]] = {}
    for ((kind, key), t), name in zip(flat, names):
        a = t.detach().numpy()
        for axis, sym in sorted(axes.get(name, {}).items()):
            if not -a.ndim <= axis < a.ndim:
                raise ValueError(f"tapegrad.onnx.export: dynamic axis {axis} of input {name!r} is out of range for "
                                 f"its shape {tuple(t.shape)}")
            n = a.shape[axis]
            if sym in sizes and sizes[sym][0] != n:
                raise ValueError(f"tapegrad.onnx.export: the dynamic axis {sym!r} has size {sizes[sym][0]} in one "
                                 f"input and {n} in {name!r}")
            m = n - delta[sym] if n - delta[sym] >= 2 else n + delta[sym]
            sizes[sym] = (n, m)
            a = np.take(a, np.arange(m) % n, axis=axis)  # NOTE: repeated rows keep index inputs in range
        new = as_tensor(_contiguous(a))
        if kind == "arg":
            new_args[key] = new
        else:
            new_kwargs[key] = new
    return tuple(new_args), new_kwargs


def _run(model, args, kwargs, flat, state):
    trace = Trace(set(OPS))
    traced_args, traced_kwargs = list(args), dict(kwargs)
    for (kind, key), t in flat:
        x = t.detach()
        if x.is_floating_point():
            x.requires_grad_(True)  # NOTE: every op on it is then on the tape: the check for ops the tracer misses
        trace.add(x)
        if kind == "arg":
            traced_args[key] = x
        else:
            traced_kwargs[key] = x
    for _, p in state.values():
        trace.add(p)
    with grad_mode.enable_grad(), tracing(trace):
        out = model(*traced_args, **traced_kwargs)
    return trace, out


def _flatten_out(out, trace):
    if isinstance(out, Tensor):
        index = trace.values.get(id(out))
        if index is None:
            if out.requires_grad and out.grad_fn is not None:
                raise UnsupportedOperatorError(f"tapegrad.onnx.export: the output was computed by "
                                               f"{out.grad_fn.name()}, an op the exporter did not see")
            return [C(out.detach().numpy().copy())]
        return [V(index)]
    if out is None:
        return []  # as PyTorch's exporter, None outputs are left out (MultiheadAttention without weights)
    if isinstance(out, (tuple, list)):
        return [o for item in out for o in _flatten_out(item, trace)]
    if isinstance(out, Mapping):
        return [o for item in out.values() for o in _flatten_out(item, trace)]
    raise OnnxExporterError(f"tapegrad.onnx.export: the model returned {type(out).__name__}; expected tensors "
                            f"(or tuples, lists, dicts of them)")


def _align(t1: Trace, t2: Trace):
    """The events of the first trace, with every number that differs in the second one as a Sym."""
    if t1 is t2:
        return t1.events
    if [e.name for e in t1.events] != [e.name for e in t2.events]:
        raise OnnxExporterError("tapegrad.onnx.export: the model calls different ops when a dynamic axis changes "
                                "size (control flow on a size), which one ONNX graph cannot express")
    return [Event(e1.name, _merge(e1.args, e2.args, e1.name), _merge(e1.out, e2.out, e1.name))
            for e1, e2 in zip(t1.events, t2.events)]


def _merge(a, b, op):
    if isinstance(a, V) and isinstance(b, V) and a.index == b.index:
        return a
    if isinstance(a, C) and isinstance(b, C):
        if a.array.shape == b.array.shape and a.array.dtype == b.array.dtype and \
                np.array_equal(a.array, b.array, equal_nan=a.array.dtype.kind in "fc"):
            return a
        raise OnnxExporterError(f"tapegrad.onnx.export: {op}: a constant tensor made in forward (shape "
                                f"{a.array.shape}) changes when a dynamic axis changes size (shape {b.array.shape}); "
                                f"make it from a buffer sliced to size, or keep that axis static")
    if type(a) is int and type(b) is int:
        return a if a == b else Sym(a, b)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b):
        return type(a)(_merge(x, y, op) for x, y in zip(a, b)) if type(a) in (tuple, list) else \
            tuple(_merge(x, y, op) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        return {k: _merge(a[k], b[k], op) for k in a}
    if isinstance(a, slice) and isinstance(b, slice):
        return slice(_merge(a.start, b.start, op), _merge(a.stop, b.stop, op), _merge(a.step, b.step, op))
    if type(a) is type(b) and not isinstance(a, (V, C)):
        try:
            same = bool(a == b)
        except Exception:  # noqa: BLE001  (objects whose == is not a truth value)
            same = a is b
        if same:
            return a
    raise OnnxExporterError(f"tapegrad.onnx.export: {op}: an argument changes when a dynamic axis changes size "
                            f"({a!r} vs {b!r}); only integer sizes may depend on it")


# ---------------------------------------------------------------------- the ONNX model
def _build(onnx, t1, t2, events, flat, names, state, outs, output_names, axes, opset, export_params,
           keep_initializers_as_inputs):
    helper = onnx.helper
    g = Graph(onnx, t1, t2, opset)
    inputs, initializers = [], []
    for i, name in enumerate(names):
        v = V(i)
        a = g.array(v)
        dims = list(a.shape)
        for axis, sym in axes.get(name, {}).items():
            dims[axis] = sym
        inputs.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(a.dtype), dims))
        g.set_value(v, name)
    for j, (pname, _) in enumerate(state.values()):
        g.set_value(V(len(names) + j), pname)
    for e in events:
        g.op = e.name
        result = OPS[e.name](g, e.args, e.out, e.name)
        outs_e = e.out if isinstance(e.out, tuple) else (e.out,)
        results = result if isinstance(result, tuple) else (result,)
        for o, r in zip(outs_e, results):
            if isinstance(o, V):
                g.set_value(o, r)
    output_names = list(output_names or ())
    if len(output_names) > len(outs):
        raise ValueError(f"tapegrad.onnx.export: {len(output_names)} output_names given for {len(outs)} outputs")
    defaults = ["output"] if len(outs) == 1 else [f"output_{i}" for i in range(len(outs))]
    output_names += defaults[len(output_names):]
    symbols = {}
    for i, name in enumerate(names):
        for axis, sym in axes.get(name, {}).items():
            symbols[(g.array(V(i), 1).shape[axis], g.array(V(i), 2).shape[axis])] = sym
    outputs = []
    for o, name in zip(outs, output_names):
        if name in g.names.values() and name not in names:
            raise ValueError(f"tapegrad.onnx.export: output name {name!r} is already used in the graph")
        src = g.value(o)
        g.node("Identity", [src], outputs=[name])
        shape = g.shape(o) if isinstance(o, V) else list(o.array.shape)
        dims = [symbols.get(d.pair, f"{name}_dim_{k}") if isinstance(d, Sym) else d for k, d in enumerate(shape)]
        for axis, sym in axes.get(name, {}).items():
            dims[axis] = sym
        dt = g.dtype(o)
        outputs.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(dt), dims))
    used = {i for n in g.nodes for i in n.input}
    for pname, p in state.values():
        if pname not in used:
            continue
        a = p.detach().numpy()
        if export_params:
            initializers.append(onnx.numpy_helper.from_array(_contiguous(a), pname))
            if keep_initializers_as_inputs:
                inputs.append(helper.make_tensor_value_info(pname, helper.np_dtype_to_tensor_dtype(a.dtype),
                                                            list(a.shape)))
        else:
            inputs.append(helper.make_tensor_value_info(pname, helper.np_dtype_to_tensor_dtype(a.dtype),
                                                        list(a.shape)))
    graph = helper.make_graph(g.nodes, "tapegrad", inputs, outputs, initializer=initializers + g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="tapegrad",
                              producer_version=_version())
    model.ir_version = 8 if opset <= 18 else 9 if opset <= 20 else 10
    onnx.checker.check_model(model, full_check=True)
    return model


def _version():
    from .._version import __version__
    return __version__


def _write(data: bytes, f: Any):
    if hasattr(f, "write"):
        f.write(data)
        return
    path = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".onnx-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
