"""The translation of each supported op into ONNX nodes (opset 17 and later).

A translation is ``fn(g, a, out) -> name | tuple of names``: ``a`` is the op's bound arguments (traced values as
``V``, constant tensors as ``C``, sizes that depend on a dynamic axis as ``Sym``), ``out`` its traced result.
"""

from __future__ import annotations

import math

import numpy as np

from ._graph import INT64_MAX, Graph, causal_mask, pair2, unsupported
from ._trace import C, Sym, V

OPS: dict = {}


def op(*names):
    def register(fn):
        for n in names:
            OPS[n] = fn
        return fn
    return register


def first(a):
    return next(iter(a.values()))


def second(a):
    return list(a.values())[1]


def out_dtype(g: Graph, out):
    return g.dtype(out)


# ---------------------------------------------------------------------- elementwise
_BINARY = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow", "__rsub__": "Sub", "__rmul__": "Mul",
           "__rtruediv__": "Div", "__rpow__": "Pow", "true_divide": "Div", "multiply": "Mul", "subtract": "Sub"}


@op(*_BINARY)
def _binary(g, a, out, name):
    x, y = first(a), second(a)
    if name.startswith("__r"):
        x, y = y, x
    dt = out_dtype(g, out)
    if name in ("div", "true_divide") and a.get("rounding_mode") is not None:
        if a["rounding_mode"] != "floor" or dt.kind != "f":
            raise unsupported(name, f"rounding_mode={a['rounding_mode']!r} is not supported")
        return g.node("Floor", [g.node("Div", [g.value(x, dt), g.value(y, dt)])])
    if name.endswith("pow") and dt.kind == "f" and not isinstance(y, (V, C)):
        exponent = g.static(y, "exponent")
        if exponent == 2:
            xv = g.value(x, dt)
            return g.node("Mul", [xv, xv])
    yv = g.value(y, dt)
    alpha = a.get("alpha", 1)
    if alpha != 1:
        yv = g.node("Mul", [yv, g.value(np.asarray(alpha, dtype=dt))])
    return g.node(_BINARY[name], [g.value(x, dt), yv])


_COMPARE = {"eq": ("Equal", False), "__eq__": ("Equal", False), "ne": ("Equal", True), "__ne__": ("Equal", True),
            "lt": ("Less", False), "le": ("LessOrEqual", False), "gt": ("Greater", False),
            "ge": ("GreaterOrEqual", False)}


@op(*_COMPARE)
def _compare(g, a, out, name):
    x, y = first(a), second(a)
    # NOTE: NumPy 2's promotion with weak Python scalars, as PyTorch's: int tensor > 0.5 compares as floats
    dt = np.result_type(*[g.dtype(t) if isinstance(t, (V, C)) else t for t in (x, y)])
    onnx_op, negate = _COMPARE[name]
    r = g.node(onnx_op, [g.value(x, dt), g.value(y, dt)])
    return g.node("Not", [r]) if negate else r


_UNARY = {"exp": "Exp", "log": "Log", "sqrt": "Sqrt", "tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu",
          "abs": "Abs", "neg": "Neg", "sin": "Sin", "cos": "Cos", "erf": "Erf", "floor": "Floor", "ceil": "Ceil",
          "reciprocal": "Reciprocal", "sign": "Sign", "negative": "Neg"}


@op(*_UNARY)
def _unary(g, a, out, name):
    dt = out_dtype(g, out)
    return g.node(_UNARY[name], [g.value(first(a), dt)])


@op("rsqrt")
def _rsqrt(g, a, out, name):
    return g.node("Reciprocal", [g.node("Sqrt", [g.value(first(a), out_dtype(g, out))])])


@op("square")
def _square(g, a, out, name):
    x = g.value(first(a), out_dtype(g, out))
    return g.node("Mul", [x, x])


@op("gelu")
def _gelu(g, a, out, name):
    x = g.value(first(a))
    dt = g.dtype(first(a))
    c = lambda v: g.const(np.asarray(v, dtype=dt))  # noqa: E731
    if a.get("approximate", "none") == "tanh":
        # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = g.node("Mul", [x, g.node("Mul", [x, x])])
        inner = g.node("Mul", [c(math.sqrt(2 / math.pi)), g.node("Add", [x, g.node("Mul", [c(0.044715), cube])])])
        return g.node("Mul", [g.node("Mul", [c(0.5), x]), g.node("Add", [c(1.0), g.node("Tanh", [inner])])])
    erf = g.node("Erf", [g.node("Mul", [x, c(1 / math.sqrt(2))])])
    return g.node("Mul", [g.node("Mul", [c(0.5), x]), g.node("Add", [c(1.0), erf])])


@op("leaky_relu")
def _leaky_relu(g, a, out, name):
    return g.node("LeakyRelu", [g.value(first(a))], alpha=float(a.get("negative_slope", 0.01)))


@op("elu")
def _elu(g, a, out, name):
    return g.node("Elu", [g.value(first(a))], alpha=float(a.get("alpha", 1.0)))


@op("silu")
def _silu(g, a, out, name):
    x = g.value(first(a))
    return g.node("Mul", [x, g.node("Sigmoid", [x])])


@op("softplus")
def _softplus(g, a, out, name):
    x, dt = g.value(first(a)), g.dtype(first(a))
    beta, threshold = float(a.get("beta", 1.0)), float(a.get("threshold", 20.0))
    bx = x if beta == 1 else g.node("Mul", [x, g.const(np.asarray(beta, dtype=dt))])
    soft = g.node("Softplus", [bx])
    if beta != 1:
        soft = g.node("Div", [soft, g.const(np.asarray(beta, dtype=dt))])
    # NOTE: PyTorch returns x itself where beta * x > threshold
    return g.node("Where", [g.node("Greater", [bx, g.const(np.asarray(threshold, dtype=dt))]), x, soft])


@op("hardtanh", "clamp", "clip")
def _clip(g, a, out, name):
    vals = list(a.values())
    if name == "hardtanh":
        lo, hi = a.get("min_val", -1.0), a.get("max_val", 1.0)
    else:
        lo, hi = (vals + [None, None])[1:3]
    dt = out_dtype(g, out)
    y = g.value(first(a), dt)
    if any(isinstance(b, (V, C)) and g.rank(b) > 0 for b in (lo, hi)):  # Clip takes 0-d bounds only
        if lo is not None:
            y = g.node("Max", [y, g.value(lo, dt)])
        return g.node("Min", [y, g.value(hi, dt)]) if hi is not None else y
    inputs = [y, "" if lo is None else g.value(lo, dt), "" if hi is None else g.value(hi, dt)]
    while inputs[-1] == "":
        inputs.pop()
    return g.node("Clip", inputs)


@op("softmax", "_softmax_method", "log_softmax", "_log_softmax_method")
def _softmax(g, a, out, name):
    x = first(a)
    dim = a.get("dim")
    if dim is None:
        raise unsupported(name, "dim=None (the implicit dimension choice) is not supported; pass dim")
    dt = out_dtype(g, out)
    onnx_op = "LogSoftmax" if "log" in name else "Softmax"
    return g.node(onnx_op, [g.value(x, dt)], axis=g.axis(dim, g.rank(x)))


@op("dropout", "alpha_dropout", "dropout1d", "dropout2d", "dropout3d", "feature_alpha_dropout")
def _dropout(g, a, out, name):
    if a.get("training", True) and a.get("p", 0.5) > 0:
        raise unsupported(name, "dropout in training mode (training=True, p > 0) is random and is not exported; "
                                "the model is exported in eval mode, so call it with training=self.training")
    return g.node("Identity", [g.value(first(a))])


@op("contiguous", "clone", "detach", "__pos__", "positive", "data")
def _identity(g, a, out, name):
    return g.node("Identity", [g.value(first(a))])


@op("float", "double", "half", "to", "type_as", "long", "int", "bool")
def _cast(g, a, out, name):
    x = first(a)
    if g.dtype(x) == g.dtype(out):
        return g.node("Identity", [g.value(x)])
    return g.value(x, g.dtype(out))


@op("masked_fill")
def _masked_fill(g, a, out, name):
    x, mask, value = first(a), a["mask"], a["value"]
    dt = out_dtype(g, out)
    return g.node("Where", [g.value(mask, np.dtype(bool)), g.value(value, dt), g.value(x, dt)])


@op("where", "_where_method")
def _where(g, a, out, name):
    vals = list(a.values())
    if name == "_where_method":
        x, cond, y = vals[0], vals[1], vals[2]
    else:
        cond, x, y = vals[0], vals[1], vals[2]
        if x is None:
            raise unsupported(name, "where(condition) (the indices form) is not supported")
    dt = out_dtype(g, out)
    return g.node("Where", [g.value(cond, np.dtype(bool)), g.value(x, dt), g.value(y, dt)])


# ---------------------------------------------------------------------- linear algebra
@op("matmul", "mm", "bmm", "__rmatmul__")
def _matmul(g, a, out, name):
    x, y = first(a), second(a)
    if name == "__rmatmul__":
        x, y = y, x
    return g.node("MatMul", [g.value(x), g.value(y)])


@op("linear")
def _linear(g, a, out, name):
    x, w, b = a["input"], a["weight"], a.get("bias")
    if g.rank(x) == 2 and g.rank(w) == 2:
        inputs = [g.value(x), g.value(w)] + ([g.value(b)] if b is not None else [])
        return g.node("Gemm", inputs, transB=1)
    wt = g.node("Transpose", [g.value(w)], perm=[1, 0]) if g.rank(w) == 2 else g.value(w)
    y = g.node("MatMul", [g.value(x), wt])
    return g.node("Add", [y, g.value(b)]) if b is not None else y


# ---------------------------------------------------------------------- shapes
@op("view", "reshape", "flatten", "unflatten", "squeeze", "unsqueeze", "view_as", "reshape_as", "ravel")
def _reshape(g, a, out, name):
    if name == "view" and a.get("dtype") is not None:
        raise unsupported(name, "view(dtype) is not supported")
    return g.reshape_to(first(a), out)


@op("transpose", "swapaxes", "swapdims", "t", "T", "mT", "H", "mH", "_reverse_dims", "_mT", "permute", "movedim",
    "moveaxis")
def _transpose(g, a, out, name):
    x = first(a)
    r = g.rank(x)
    perm = list(range(r))
    vals = list(a.values())
    if name in ("transpose", "swapaxes", "swapdims"):
        d0, d1 = g.axis(vals[1], r), g.axis(vals[2], r)
        perm[d0], perm[d1] = perm[d1], perm[d0]
    elif name in ("T", "H", "_reverse_dims") or (name == "t" and r == 2):
        perm = perm[::-1]
    elif name in ("mT", "mH", "_mT"):
        perm[-1], perm[-2] = perm[-2], perm[-1]
    elif name == "permute":
        dims = a.get("dims") or vals[1]
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = dims[0]
        perm = [g.axis(d, r) for d in dims]
    elif name in ("movedim", "moveaxis"):
        src, dst = vals[1], vals[2]
        src = [src] if isinstance(src, int) else list(src)
        dst = [dst] if isinstance(dst, int) else list(dst)
        src, dst = [g.axis(s, r) for s in src], [g.axis(d, r) for d in dst]
        rest = [i for i in range(r) if i not in src]
        perm = [None] * r
        for s, d in zip(src, dst):
            perm[d] = s
        it = iter(rest)
        perm = [p if p is not None else next(it) for p in perm]
    if perm == list(range(r)):
        return g.node("Identity", [g.value(x)])
    return g.node("Transpose", [g.value(x)], perm=perm)


@op("expand", "expand_as", "broadcast_to")
def _expand(g, a, out, name):
    return g.node("Expand", [g.value(first(a)), g.ints(g.shape(out))])


@op("cat", "concat", "concatenate")
def _cat(g, a, out, name):
    tensors = first(a)
    dim = a.get("dim", 0) if a.get("axis") is None else a["axis"]
    dt = out_dtype(g, out)
    return g.node("Concat", [g.value(t, dt) for t in tensors], axis=g.axis(dim, g.rank(out)))


@op("stack")
def _stack(g, a, out, name):
    tensors = first(a)
    dt = out_dtype(g, out)
    axis = g.axis(a.get("dim", 0), g.rank(out))
    ax = g.ints([axis])
    return g.node("Concat", [g.node("Unsqueeze", [g.value(t, dt), ax]) for t in tensors], axis=axis)


@op("split", "chunk", "tensor_split", "unbind")
def _split(g, a, out, name):
    x = first(a)
    vals = list(a.values())
    dim = a.get("dim", 0)
    axis = g.axis(dim, g.rank(x))
    outs = out if isinstance(out, tuple) else (out,)
    if name == "unbind":
        sizes = [1] * len(outs)
    else:
        sizes = [g.static(g.shape(o)[axis], "the size of a split piece") for o in outs]
    if isinstance(g.shape(x)[axis], Sym):
        raise g.static(g.shape(x)[axis], f"{name}'s dimension {axis}")
    del vals
    names = [g.fresh("split") for _ in outs]
    g.node("Split", [g.value(x), g.ints(sizes)], outputs=names, axis=axis)
    if name == "unbind":
        ax = g.ints([axis])
        names = [g.node("Squeeze", [n, ax]) for n in names]
    return tuple(names)


@op("getitem", "__getitem__")
def _getitem(g, a, out, name):
    x, index = first(a), second(a)
    if not isinstance(index, tuple):
        index = (index,)
    rank = g.rank(x)
    n_real = sum(1 for i in index if i is not None and i is not Ellipsis)
    if Ellipsis in index:
        k = index.index(Ellipsis)
        index = index[:k] + (slice(None),) * (rank - n_real) + index[k + 1:]
    index = index + (slice(None),) * (rank - sum(1 for i in index if i is not None))
    starts, ends, axes, steps, picks, tensors, nones = [], [], [], [], [], [], []
    dim = out_dim = 0
    for i in index:
        if i is None:
            nones.append(out_dim)
            out_dim += 1
            continue
        if isinstance(i, slice):
            if not (i.start is None and i.stop is None and i.step is None):
                step = 1 if i.step is None else g.static(i.step, "a slice step")
                if step <= 0:
                    raise unsupported(name, "slice steps must be positive (as in PyTorch)")
                starts.append(0 if i.start is None else i.start)
                ends.append(INT64_MAX if i.stop is None else i.stop)
                axes.append(dim)
                steps.append(step)
            out_dim += 1
        elif isinstance(i, (int, Sym)) and not isinstance(i, bool):
            picks.append((dim, i))
        elif isinstance(i, (V, C, list)):
            tensors.append((dim, i))
            out_dim += 1
        else:
            raise unsupported(name, f"index {i!r} is not supported")
        dim += 1
    if tensors and (picks or len(tensors) > 1):
        raise unsupported(name, "indexing with a tensor is supported only as the one advanced index")
    y = g.value(x)
    if axes:
        y = g.node("Slice", [y, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)])
    for dim, i in sorted(picks, key=lambda p: p[0], reverse=True):
        index_value = g.node("Squeeze", [g.ints([i])]) if isinstance(i, Sym) else \
            g.const(np.asarray(i, dtype=np.int64))  # a 0-d index: Gather removes the dimension
        y = g.node("Gather", [y, index_value], axis=dim)
    for dim, i in tensors:
        if isinstance(i, list):
            i = C(np.asarray(i, dtype=np.int64))
        if g.dtype(i) == np.bool_:
            raise unsupported(name, "indexing with a boolean mask gives a data-dependent shape")
        y = g.node("Gather", [y, g.value(i, np.dtype(np.int64))], axis=dim)
    if nones:
        y = g.node("Unsqueeze", [y, g.ints(nones)])
    return y


@op("tril", "triu")
def _trilu(g, a, out, name):
    k = g.ints([a.get("diagonal", 0)])
    return g.node("Trilu", [g.value(first(a)), g.node("Squeeze", [k])], upper=int(name == "triu"))


@op("arange")
def _arange(g, a, out, name):
    vals = [a.get("start"), a.get("end"), a.get("step", 1)]
    if vals[1] is None:
        vals = [0, vals[0], vals[2]]
    if not any(isinstance(v, Sym) for v in vals):
        return g.const(g.array(out))
    dt = out_dtype(g, out)
    scalars = []
    for v in vals:
        s = g.node("Squeeze", [g.ints([v])]) if isinstance(v, Sym) else g.const(np.asarray(v, dtype=np.int64))
        scalars.append(s if dt == np.int64 else g.node("Cast", [s], to=g.helper.np_dtype_to_tensor_dtype(dt)))
    return g.node("Range", scalars)


@op("zeros", "ones", "full", "like", "full_like", "zeros_like", "ones_like")
def _filled(g, a, out, name):
    """A tensor of one value: a constant, or ConstantOfShape when its size depends on a dynamic axis."""
    array = g.array(out)
    shape = g.shape(out)
    if not any(isinstance(d, Sym) for d in shape):
        return g.const(array)
    if array.size and not (array == array.flat[0]).all():
        raise unsupported(name, "expected one value in every element")
    value = array.reshape(-1)[:1] if array.size else np.zeros(1, dtype=array.dtype)
    return g.node("ConstantOfShape", [g.ints(shape)], value=g.onnx.numpy_helper.from_array(value.copy()))


# ---------------------------------------------------------------------- reductions
def _dims(g, a, rank):
    dim = a.get("dim") if a.get("axis") is None else a.get("axis")
    if dim is None or dim == ():
        return None
    dims = [dim] if isinstance(dim, int) else list(dim)
    return [g.axis(d, rank) for d in dims]


def _reduce(g, onnx_op, x, axes, keepdims, dtype=None):
    inputs = [g.value(x, dtype)]
    if axes is None:
        return g.node(onnx_op, inputs, keepdims=int(keepdims))
    if onnx_op == "ReduceSum" or g.opset >= 18:
        return g.node(onnx_op, inputs + [g.ints(axes)], keepdims=int(keepdims))
    return g.node(onnx_op, inputs, axes=axes, keepdims=int(keepdims))


@op("sum", "mean", "amax", "amin", "prod")
def _reduction(g, a, out, name):
    x = first(a)
    keep = a.get("keepdim", False) if a.get("keepdims") is None else a["keepdims"]
    onnx_op = {"sum": "ReduceSum", "mean": "ReduceMean", "amax": "ReduceMax", "amin": "ReduceMin",
               "prod": "ReduceProd"}[name]
    return _reduce(g, onnx_op, x, _dims(g, a, g.rank(x)), keep, out_dtype(g, out))


@op("max", "min")
def _max(g, a, out, name):
    x, vals = first(a), list(a.values())
    if len(vals) > 1 and isinstance(vals[1], (V, C)):
        dt = out_dtype(g, out)
        return g.node("Max" if name == "max" else "Min", [g.value(x, dt), g.value(vals[1], dt)])
    keep = a.get("keepdim", False) if a.get("keepdims") is None else a["keepdims"]
    axes = _dims(g, a, g.rank(x))
    onnx_op = "ReduceMax" if name == "max" else "ReduceMin"
    if axes is None:
        return _reduce(g, onnx_op, x, None, False)
    values = _reduce(g, onnx_op, x, axes, keep)
    indices = g.node("ArgMax" if name == "max" else "ArgMin", [g.value(x)], axis=axes[0], keepdims=int(keep))
    return values, indices


@op("argmax", "argmin")
def _argmax(g, a, out, name):
    x = first(a)
    onnx_op = "ArgMax" if name == "argmax" else "ArgMin"
    if a.get("dim") is None:
        flat = g.node("Reshape", [g.value(x), g.ints([-1])])
        return g.node(onnx_op, [flat], axis=0, keepdims=0)
    return g.node(onnx_op, [g.value(x)], axis=g.axis(a["dim"], g.rank(x)), keepdims=int(a.get("keepdim", False)))


# ---------------------------------------------------------------------- nn layers
def _pads2(padding):
    ph, pw = pair2(padding)
    return [ph, pw, ph, pw]


@op("conv2d")
def _conv2d(g, a, out, name):
    x, w, b = a["input"], a["weight"], a.get("bias")
    stride, dilation = pair2(a.get("stride", 1)), pair2(a.get("dilation", 1))
    kh, kw = g.shape(w)[2:]
    padding = a.get("padding", 0)
    if padding == "valid":
        pads = [0, 0, 0, 0]
    elif padding == "same":
        th, tw = dilation[0] * (kh - 1), dilation[1] * (kw - 1)
        pads = [th // 2, tw // 2, th - th // 2, tw - tw // 2]
    else:
        pads = _pads2(padding)
    inputs = [g.value(x), g.value(w)] + ([g.value(b)] if b is not None else [])
    return g.node("Conv", inputs, kernel_shape=[kh, kw], strides=list(stride), pads=pads,
                  dilations=list(dilation), group=int(a.get("groups", 1)))


@op("max_pool2d")
def _max_pool2d(g, a, out, name):
    if a.get("return_indices"):
        raise unsupported(name, "return_indices=True is not supported")
    k = pair2(a["kernel_size"])
    stride = a.get("stride")
    stride = k if stride is None or stride == [] or stride == () else pair2(stride)
    return g.node("MaxPool", [g.value(a["input"])], kernel_shape=list(k), strides=list(stride),
                  pads=_pads2(a.get("padding", 0)), dilations=list(pair2(a.get("dilation", 1))),
                  ceil_mode=int(bool(a.get("ceil_mode", False))))


@op("avg_pool2d")
def _avg_pool2d(g, a, out, name):
    if a.get("divisor_override") is not None:
        raise unsupported(name, "divisor_override is not supported")
    k = pair2(a["kernel_size"])
    stride = a.get("stride")
    stride = k if stride is None or stride == [] or stride == () else pair2(stride)
    return g.node("AveragePool", [g.value(a["input"])], kernel_shape=list(k), strides=list(stride),
                  pads=_pads2(a.get("padding", 0)), ceil_mode=int(bool(a.get("ceil_mode", False))),
                  count_include_pad=int(bool(a.get("count_include_pad", True))))


@op("adaptive_avg_pool2d")
def _adaptive_avg_pool2d(g, a, out, name):
    x = a["input"]
    size = pair2(a["output_size"])
    if tuple(size) == (1, 1):
        return g.node("GlobalAveragePool", [g.value(x)])
    h, w = g.static(g.shape(x)[2:], "the pooled input's size")
    size = [s if s is not None else d for s, d in zip(size, (h, w))]
    if h % size[0] or w % size[1]:
        raise unsupported(name, f"output_size {tuple(size)} does not divide the input size {(h, w)}")
    k = [h // size[0], w // size[1]]
    return g.node("AveragePool", [g.value(x)], kernel_shape=k, strides=k)


@op("batch_norm")
def _batch_norm(g, a, out, name):
    x, mean, var = a["input"], a["running_mean"], a["running_var"]
    if a.get("training") or mean is None:
        raise unsupported(name, "batch statistics (training=True or no running stats) are not exported; the "
                                "model is exported in eval mode")
    c = g.shape(x)[1]
    dt = g.dtype(x)
    w = a.get("weight")
    b = a.get("bias")
    w = g.value(w) if w is not None else g.const(np.ones(c, dtype=dt))
    b = g.value(b) if b is not None else g.const(np.zeros(c, dtype=dt))
    return g.node("BatchNormalization", [g.value(x), w, b, g.value(mean), g.value(var)],
                  epsilon=float(a.get("eps", 1e-5)))


@op("layer_norm")
def _layer_norm(g, a, out, name):
    x, shape = a["input"], a["normalized_shape"]
    shape = [shape] if isinstance(shape, int) else list(shape)
    dt = g.dtype(x)
    w, b = a.get("weight"), a.get("bias")
    inputs = [g.value(x), g.value(w) if w is not None else g.const(np.ones(shape, dtype=dt))]
    if b is not None:
        inputs.append(g.value(b))
    return g.node("LayerNormalization", inputs, axis=-len(shape), epsilon=float(a.get("eps", 1e-5)))


@op("embedding")
def _embedding(g, a, out, name):
    if a.get("max_norm") is not None:
        raise unsupported(name, "max_norm (which renormalizes the weight in place) is not supported")
    return g.node("Gather", [g.value(a["weight"]), g.value(a["input"], np.dtype(np.int64))], axis=0)


@op("pad")
def _pad(g, a, out, name):
    x, pad = a["input"], list(a["pad"])
    modes = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}
    mode = modes[a.get("mode", "constant")]
    if mode == "wrap" and g.opset < 19:
        raise unsupported(name, "mode='circular' needs opset_version >= 19")
    r = g.rank(x)
    begins, ends = [0] * r, [0] * r
    for i in range(len(pad) // 2):
        begins[r - 1 - i], ends[r - 1 - i] = pad[2 * i], pad[2 * i + 1]
    inputs = [g.value(x), g.ints(begins + ends)]
    if mode == "constant":
        value = a.get("value")
        inputs.append(g.const(np.asarray(0 if value is None else value, dtype=g.dtype(x))))
    return g.node("Pad", inputs, mode=mode)


@op("scaled_dot_product_attention")
def _sdpa(g, a, out, name):
    q, k, v = a["query"], a["key"], a["value"]
    if a.get("dropout_p", 0.0) > 0:
        raise unsupported(name, "dropout_p > 0 is random and is not exported; pass dropout_p=0.0 in eval mode")
    if a.get("enable_gqa"):
        raise unsupported(name, "enable_gqa=True is not supported")
    dt = g.dtype(q)
    e = g.static(g.shape(q)[-1], "the embedding size")
    scale = a.get("scale")
    scale = 1.0 / math.sqrt(e) if scale is None else scale
    r = g.rank(k)
    perm = list(range(r))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    kt = g.node("Transpose", [g.value(k)], perm=perm)
    scores = g.node("Mul", [g.node("MatMul", [g.value(q), kt]), g.const(np.asarray(scale, dtype=dt))])
    minus_inf = g.const(np.asarray(-np.inf, dtype=dt))
    if a.get("is_causal"):
        mask = causal_mask(g, g.shape(q)[-2], g.shape(k)[-2])
        scores = g.node("Where", [mask, scores, minus_inf])
    m = a.get("attn_mask")
    if m is not None:
        if g.dtype(m) == np.bool_:
            scores = g.node("Where", [g.value(m), scores, minus_inf])
        else:
            scores = g.node("Add", [scores, g.value(m, dt)])
    return g.node("MatMul", [g.node("Softmax", [scores], axis=-1), g.value(v)])
