"""add_graph's GraphDef: one recorded forward pass, read through ``viz.draw_graph``, as TensorBoard nodes.

PyTorch traces the model with TorchScript; tapegrad records one forward pass on its tape instead (the inputs are
copied with ``requires_grad=True`` so every op on them is recorded, and the model runs in eval mode, as PyTorch's
tracer runs it). Node names are scoped like PyTorch's: ``Net/fc1/Linear...`` for ops that consume a parameter
of module ``fc1``, ``input/input.0`` and ``output/output.0`` for the ends.
"""

from tensorboardX.proto.attr_value_pb2 import AttrValue
from tensorboardX.proto.graph_pb2 import GraphDef
from tensorboardX.proto.node_def_pb2 import NodeDef
from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboardX.proto.versions_pb2 import VersionDef

from ..._tensor import Tensor
from ...autograd import grad_mode
from ...viz.graph import draw_graph

_MAX_NODES = 1_000_000


def _as_tuple(x):
    if x is None:
        return ()
    return tuple(x) if isinstance(x, (list, tuple)) else (x,)


def _outputs(out):
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _outputs(o)]
    return []


def _meta(label):
    """(first line, shape, dtype) from a draw_graph label: 'Mul\\n2×3 float32' or 'fc.weight\\nscalar float64'."""
    lines = label.split("\n")
    shape, dtype = lines[1].rsplit(" ", 1)
    dims = [] if shape == "scalar" else [int(s) for s in shape.split("×")]
    return lines[0], dims, dtype


def _node(name, op, inputs, dims, dtype):
    shape = TensorShapeProto(dim=[TensorShapeProto.Dim(size=d) for d in dims])
    attr = {"attr": AttrValue(s=f"{{dtype: {dtype}}}".encode()),
            "_output_shapes": AttrValue(list=AttrValue.ListValue(shape=[shape]))}
    return NodeDef(name=name, op=op, input=inputs, attr=attr)


def graph(model, args=None, verbose=False):
    """graph(model, args) -> GraphDef of one forward pass of ``model(*args)``."""
    root = type(model).__name__
    modes = [(m, m.training) for m in model.modules()] if hasattr(model, "modules") else []
    inputs = [a.detach().requires_grad_(a.is_floating_point()) if isinstance(a, Tensor) else a
              for a in _as_tuple(args)]
    try:
        if hasattr(model, "eval"):
            model.eval()
        with grad_mode.enable_grad():
            outputs = _outputs(model(*inputs))
    finally:
        for m, mode in modes:
            m.training = mode
    if not outputs:
        raise ValueError(f"add_graph: {root}'s forward returned no tensor, so there is no graph to draw")
    params = dict(model.named_parameters()) if hasattr(model, "named_parameters") else {}
    nodes, edges, scope = {}, {}, {}
    for out in outputs:
        g = draw_graph(out, params=params, show_grads=False, max_nodes=_MAX_NODES)
        nodes.update(g.nodes)
        edges.update(dict.fromkeys(g.edges))
        scope.update({n: module for module, ids in g.clusters.items() for n in ids})
    input_ids = {id(t): i for i, t in enumerate(inputs) if isinstance(t, Tensor)}
    param_ids = {id(p): name for name, p in params.items()}
    output_ids = {id(t): i for i, t in enumerate(outputs)}
    names, count = {}, {}
    for n, node in nodes.items():
        first, _, _ = _meta(node["label"])
        if n in input_ids:
            names[n] = f"input/input.{input_ids[n]}"
        elif n in param_ids:
            names[n] = f"{root}/" + param_ids[n].replace(".", "/")
        else:
            module = scope.get(n)
            prefix = root if module in (None, "(model)") else f"{root}/" + module.replace(".", "/")
            base = first if node["kind"] in ("op", "output") else "Constant"
            count[base] = count.get(base, 0) + 1
            names[n] = f"{prefix}/{base}_{count[base]}"
    parents = {}
    for a, b in edges:
        parents.setdefault(b, []).append(names[a])
    defs = []
    for n, node in nodes.items():
        first, dims, dtype = _meta(node["label"])
        if n in input_ids:
            op = "IO Node"
        elif n in param_ids:
            op = "Parameter"
        elif node["kind"] in ("op", "output"):
            op = first
        else:
            op = "Constant"
        defs.append(_node(names[n], op, parents.get(n, []), dims, dtype))
    for n, i in output_ids.items():
        _, dims, dtype = _meta(nodes[n]["label"])
        defs.append(_node(f"output/output.{i}", "IO Node", [names[n]], dims, dtype))
    if verbose:
        for d in defs:
            print(d)
    return GraphDef(node=defs, versions=VersionDef(producer=22))
