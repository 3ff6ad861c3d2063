"""Summary protocol buffers, built as ``torch.utils.tensorboard.summary`` builds them, with tensorboardX's protos.

Tags are kept as given (PyTorch does not rewrite them); tensors are accepted wherever PyTorch accepts them.
"""

import numpy as np
from tensorboardX import summary as _tbx
from tensorboardX.proto.summary_pb2 import HistogramProto, Summary, SummaryMetadata
from tensorboardX.proto.tensor_pb2 import TensorProto
from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboardX.utils import convert_to_HWC

from ..._optional import require
from ..._tensor import Tensor

__all__ = ["make_np", "scalar", "tensor_proto", "histogram", "histogram_raw", "image", "image_boxes", "text",
           "hparams"]


def make_np(x):
    """make_np(x) -> numpy array: a tapegrad tensor (detached), a numpy array, or a Python/numpy scalar."""
    if isinstance(x, np.ndarray):
        return x
    if np.isscalar(x):
        return np.array([x])
    if isinstance(x, Tensor):
        return x.detach().numpy()
    raise NotImplementedError(f"Got {type(x)}, but numpy array or tapegrad tensor are expected.")


def scalar(name, tensor, collections=None, new_style=False, double_precision=False):
    """A Summary with one scalar: ``simple_value``, or with ``new_style`` a float (or double) tensor."""
    tensor = make_np(tensor).squeeze()
    if tensor.ndim != 0:
        raise AssertionError(f"Tensor should contain one element (0 dimensions). Was given size: {tensor.size} "
                             f"and {tensor.ndim} dimensions.")
    value = float(tensor)
    if new_style:
        proto = (TensorProto(double_val=[value], dtype="DT_DOUBLE") if double_precision
                 else TensorProto(float_val=[value], dtype="DT_FLOAT"))
        smd = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
        return Summary(value=[Summary.Value(tag=name, tensor=proto, metadata=smd)])
    return Summary(value=[Summary.Value(tag=name, simple_value=value)])


_TENSOR_TYPES = {np.dtype(np.float16): ("DT_HALF", "half_val"), np.dtype(np.float32): ("DT_FLOAT", "float_val"),
                 np.dtype(np.float64): ("DT_DOUBLE", "double_val"), np.dtype(np.int8): ("DT_INT8", "int_val"),
                 np.dtype(np.uint8): ("DT_UINT8", "int_val"), np.dtype(np.int16): ("DT_INT16", "int_val"),
                 np.dtype(np.int32): ("DT_INT32", "int_val"), np.dtype(np.int64): ("DT_INT64", "int64_val"),
                 np.dtype(np.bool_): ("DT_BOOL", "bool_val")}


def tensor_proto(tag, tensor):
    """A Summary holding the whole tensor (``add_tensor``)."""
    array = make_np(tensor)
    if array.nbytes >= (1 << 31):
        raise ValueError("tensor is bigger than protocol buffer's hard limit of 2GB in size")
    if array.dtype not in _TENSOR_TYPES:
        raise ValueError(f"{tag} has unsupported tensor dtype {array.dtype}")
    dtype, field = _TENSOR_TYPES[array.dtype]
    flat = array.reshape(-1)
    # NOTE: half values travel as their 16-bit patterns, as TensorFlow's TensorProto stores them.
    values = flat.view(np.uint16).tolist() if array.dtype == np.float16 else flat.tolist()
    proto = TensorProto(dtype=dtype, tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=s)
                                                                        for s in array.shape]),
                        **{field: values})
    smd = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="tensor"))
    return Summary(value=[Summary.Value(tag=tag, metadata=smd, tensor=proto)])


def histogram_raw(name, min, max, num, sum, sum_squares, bucket_limits, bucket_counts):
    """A Summary with a histogram given by its statistics and buckets."""
    hist = HistogramProto(min=min, max=max, num=num, sum=sum, sum_squares=sum_squares,
                          bucket_limit=bucket_limits, bucket=bucket_counts)
    return Summary(value=[Summary.Value(tag=name, histo=hist)])


def histogram(name, values, bins, max_bins=None):
    """A Summary with the histogram of ``values`` (numpy's ``bins``; PyTorch's bucket layout)."""
    values = make_np(values)
    return Summary(value=[Summary.Value(tag=name, histo=_tbx.make_histogram(values.astype(float), bins, max_bins))])


def _make_image(array, rescale=1, rois=None, labels=None, feature="SummaryWriter.add_image"):
    require("PIL", feature=feature, extra="tensorboard", package="pillow")
    return _tbx.make_image(array, rescale=rescale, rois=rois, labels=labels)


def _to_uint8(array):
    # NOTE: as PyTorch: uint8 images are kept, anything else is taken to be in [0, 1] and scaled by 255.
    scale = 1 if array.dtype == np.uint8 else 255
    return (array.astype(np.float32) * scale).clip(0, 255).astype(np.uint8)


def image(tag, tensor, rescale=1, dataformats="NCHW"):
    """A Summary with one image (a grid of images for a 4-d ``dataformats``)."""
    array = convert_to_HWC(make_np(tensor), dataformats)
    return Summary(value=[Summary.Value(tag=tag, image=_make_image(_to_uint8(array), rescale=rescale))])


def image_boxes(tag, tensor_image, tensor_boxes, rescale=1, dataformats="CHW", labels=None):
    """A Summary with an image and boxes (x1, y1, x2, y2) drawn on it."""
    array = convert_to_HWC(make_np(tensor_image), dataformats)
    img = _make_image(_to_uint8(array), rescale=rescale, rois=make_np(tensor_boxes), labels=labels,
                      feature="SummaryWriter.add_image_with_boxes")
    return Summary(value=[Summary.Value(tag=tag, image=img)])


def text(tag, text):
    """A Summary with a text (markdown) entry, tagged ``tag + '/text_summary'`` as PyTorch does."""
    from tensorboardX.proto.plugin_text_pb2 import TextPluginData

    smd = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
        plugin_name="text", content=TextPluginData(version=0).SerializeToString()))
    proto = TensorProto(dtype="DT_STRING", string_val=[text.encode(encoding="utf_8")],
                        tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]))
    return Summary(value=[Summary.Value(tag=tag + "/text_summary", metadata=smd, tensor=proto)])


def hparams(hparam_dict=None, metric_dict=None, hparam_domain_discrete=None):
    """The three Summaries of the hparams plugin (experiment, session start, session end), as PyTorch's."""
    from google.protobuf import struct_pb2
    from tensorboardX.proto.api_pb2 import DataType, Experiment, HParamInfo, MetricInfo, MetricName, Status
    from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData, SessionEndInfo, SessionStartInfo

    if not isinstance(hparam_dict, dict):
        raise TypeError("parameter: hparam_dict should be a dictionary, nothing logged.")
    if not isinstance(metric_dict, dict):
        raise TypeError("parameter: metric_dict should be a dictionary, nothing logged.")
    hparam_domain_discrete = hparam_domain_discrete or {}
    if not isinstance(hparam_domain_discrete, dict):
        raise TypeError("parameter: hparam_domain_discrete should be a dictionary, nothing logged.")
    for k, v in hparam_domain_discrete.items():
        if k not in hparam_dict or not isinstance(v, list) or not all(isinstance(d, type(hparam_dict[k])) for d in v):
            raise TypeError(f"parameter: hparam_domain_discrete[{k}] should be a list of same type as "
                            f"hparam_dict[{k}].")

    def domain(k, field):
        if k not in hparam_domain_discrete:
            return None
        return struct_pb2.ListValue(values=[struct_pb2.Value(**{field: d}) for d in hparam_domain_discrete[k]])

    hps = []
    ssi = SessionStartInfo()
    for k, v in hparam_dict.items():
        if v is None:
            continue
        # NOTE: the order of these checks is PyTorch's: a bool is an int, so True is logged as the number 1.0.
        if isinstance(v, (int, float)):
            ssi.hparams[k].number_value = v
            hps.append(HParamInfo(name=k, type=DataType.Value("DATA_TYPE_FLOAT64"),
                                  domain_discrete=domain(k, "number_value")))
        elif isinstance(v, str):
            ssi.hparams[k].string_value = v
            hps.append(HParamInfo(name=k, type=DataType.Value("DATA_TYPE_STRING"),
                                  domain_discrete=domain(k, "string_value")))
        elif isinstance(v, Tensor):
            ssi.hparams[k].number_value = make_np(v).reshape(-1)[0]
            hps.append(HParamInfo(name=k, type=DataType.Value("DATA_TYPE_FLOAT64")))
        else:
            raise ValueError("value should be one of int, float, str, bool, or torch.Tensor")

    def plugin_summary(tag, **content):
        data = HParamsPluginData(version=0, **content)
        smd = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="hparams",
                                                                     content=data.SerializeToString()))
        return Summary(value=[Summary.Value(tag=tag, metadata=smd)])

    exp = Experiment(hparam_infos=hps, metric_infos=[MetricInfo(name=MetricName(tag=k)) for k in metric_dict])
    return (plugin_summary("_hparams_/experiment", experiment=exp),
            plugin_summary("_hparams_/session_start_info", session_start_info=ssi),
            plugin_summary("_hparams_/session_end_info",
                           session_end_info=SessionEndInfo(status=Status.Value("STATUS_SUCCESS"))))
