"""Building the ONNX graph from two aligned traces: values, constants, symbolic sizes, and the op translations."""

from __future__ import annotations

import math

import numpy as np

from ._trace import C, OnnxExporterError, Sym, UnsupportedOperatorError, V

INT64_MAX = np.iinfo(np.int64).max


class Graph:
    """Nodes, initializers and the ONNX names of traced values, for one export."""

    def __init__(self, onnx, trace1, trace2, opset):
        self.onnx, self.helper = onnx, onnx.helper
        self.t1, self.t2 = trace1, trace2
        self.opset = opset
        self.nodes: list = []
        self.initializers: list = []
        self.names: dict[int, str] = {}  # value index -> ONNX name
        self.sources: dict[tuple, tuple] = {}  # (size in trace 1, in trace 2) -> (ONNX name, axis)
        self.dims: dict[tuple, str] = {}  # cached 1-D int64 tensors of symbolic sizes
        self.counter = 0
        self.op = ""

    # ------------------------------------------------------------------ names and values
    def fresh(self, hint: str) -> str:
        self.counter += 1
        return f"{hint}_{self.counter}"

    def node(self, op_type: str, inputs, outputs=1, **attrs):
        outs = [self.fresh(op_type) for _ in range(outputs)] if isinstance(outputs, int) else list(outputs)
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outs, name=self.fresh("n" + op_type),
                                                **attrs))
        return outs[0] if len(outs) == 1 else outs

    def const(self, array, hint="const") -> str:
        array = np.asarray(array)
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(_contiguous(array), name))
        return name

    def array(self, v: V, trace=1) -> np.ndarray:
        return (self.t1 if trace == 1 else self.t2).tensors[v.index].detach().numpy()

    def shape(self, v) -> list:
        """The shape of a value, a size that differs between the traces as a Sym."""
        if isinstance(v, C):
            return list(v.array.shape)
        a, b = self.array(v, 1).shape, self.array(v, 2).shape
        return [x if x == y else Sym(x, y) for x, y in zip(a, b)]

    def rank(self, v) -> int:
        return v.array.ndim if isinstance(v, C) else self.array(v).ndim

    def dtype(self, v) -> np.dtype:
        return v.array.dtype if isinstance(v, C) else self.array(v).dtype

    def set_value(self, v: V, name: str):
        self.names[v.index] = name
        for axis, d in enumerate(self.shape(v)):
            if isinstance(d, Sym):
                self.sources.setdefault(d.pair, (name, axis))

    def value(self, x, dtype=None) -> str:
        """The ONNX name of ``x`` (a traced value, a constant, a Python number), cast to ``dtype`` if given."""
        if isinstance(x, V):
            name = self.names[x.index]
            if dtype is not None and self.array(x).dtype != dtype:
                name = self.node("Cast", [name], to=self.helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))
            return name
        if isinstance(x, C):
            a = x.array if dtype is None else x.array.astype(dtype)
            return self.const(a)
        if isinstance(x, Sym):
            raise self.error(f"a number that depends on a dynamic axis ({x.pair[0]} vs {x.pair[1]}) is used as a "
                             f"tensor")
        if isinstance(x, (bool, int, float, np.generic)):
            return self.const(np.asarray(x, dtype=dtype if dtype is not None else None))
        raise self.error(f"unexpected operand {x!r}")

    # ------------------------------------------------------------------ sizes
    def error(self, message: str) -> OnnxExporterError:
        return OnnxExporterError(f"tapegrad.onnx.export: {self.op}: {message}")

    def static(self, x, what="argument"):
        """``x`` (a number or a container of them) that must not depend on a dynamic axis."""
        if isinstance(x, Sym):
            raise self.error(f"{what} depends on the size of a dynamic axis ({x.pair[0]} in one trace, "
                             f"{x.pair[1]} in the other); only a fixed value can be exported here")
        if isinstance(x, (tuple, list)):
            return type(x)(self.static(o, what) for o in x)
        return x

    def dim(self, s: Sym) -> str | None:
        """A 1-D int64 tensor holding the symbolic size ``s`` (read with Shape from a value of that size)."""
        if s.pair in self.dims:
            return self.dims[s.pair]
        source = self.sources.get(s.pair)
        if source is None:
            return None
        name, axis = source
        out = self.node("Shape", [name], start=axis, end=axis + 1)
        self.dims[s.pair] = out
        return out

    def ints(self, items) -> str:
        """A 1-D int64 tensor of ``items`` (ints and Syms)."""
        if not any(isinstance(i, Sym) for i in items):
            return self.const(np.asarray(items, dtype=np.int64).reshape(-1))
        parts: list[str] = []  # values, concatenated
        run: list[int] = []  # the static sizes since the last Sym
        for i in items:
            if isinstance(i, Sym):
                if run:
                    parts.append(self.const(np.asarray(run, dtype=np.int64)))
                    run = []
                d = self.dim(i)
                if d is None:
                    raise self.static(i, "a size")
                parts.append(d)
            else:
                run.append(int(i))
        if run:
            parts.append(self.const(np.asarray(run, dtype=np.int64)))
        return parts[0] if len(parts) == 1 else self.node("Concat", parts, axis=0)

    def reshape_to(self, x: V, out: V) -> str:
        """Reshape ``x`` to ``out``'s shape, with symbolic sizes copied (0), read with Shape, or inferred (-1)."""
        src, dst = self.shape(x), self.shape(out)
        items: list[int | Sym] = []
        unknown: list[Sym] = []
        for i, d in enumerate(dst):
            if isinstance(d, Sym):
                if i < len(src) and isinstance(src[i], Sym) and src[i].pair == d.pair:
                    items.append(0)  # ONNX Reshape: 0 copies the input's size at this position
                elif d.pair in self.sources or d.pair in self.dims:
                    items.append(d)
                else:
                    items.append(-1)
                    unknown.append(d)
            else:
                if d == 0:
                    raise self.error("reshape to a size-0 dimension is not supported")
                items.append(d)
        if len(unknown) > 1:
            raise self.error(f"the new shape has several sizes that depend on dynamic axes "
                             f"({', '.join(str(u.pair) for u in unknown)}) and cannot be computed from the input")
        return self.node("Reshape", [self.value(x), self.ints(items)])

    def axis(self, dim, rank) -> int:
        dim = self.static(dim, "dim")
        return dim + rank if dim < 0 else dim


def unsupported(op: str, why: str) -> UnsupportedOperatorError:
    return UnsupportedOperatorError(f"tapegrad.onnx.export: {op}: {why}")


def causal_mask(g: Graph, L, S) -> str:
    """A bool (L, S) mask, True on and below the diagonal (PyTorch's is_causal)."""
    if not isinstance(L, Sym) and not isinstance(S, Sym):
        return g.const(np.tril(np.ones((L, S), dtype=bool)))
    ones = g.node("ConstantOfShape", [g.ints([L, S])],
                  value=g.onnx.numpy_helper.from_array(np.ones(1, dtype=np.float32)))
    lower = g.node("Trilu", [ones], upper=0)
    return g.node("Cast", [lower], to=g.onnx.TensorProto.BOOL)


def pair2(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x, x)


def sqrt_half():
    return 1.0 / math.sqrt(2.0)


def _contiguous(a: np.ndarray) -> np.ndarray:
    """``a`` C-contiguous, keeping its shape (``np.ascontiguousarray`` turns a 0-d array into a 1-d one)."""
    return np.array(a, order="C", copy=True)
