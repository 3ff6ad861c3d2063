"""Recurrent layers: RNN, LSTM, GRU and their cells (``torch.nn.RNN``, ``torch.nn.LSTM``, ...).

Parameters are named, shaped, ordered and initialized as PyTorch's (``weight_ih_l0``, ``weight_hh_l0``,
``bias_ih_l0``, ``bias_hh_l0``, ``weight_hr_l0`` with ``proj_size``, ``..._reverse`` for the second direction;
gates i, f, g, o and r, z, n; U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))), so a ``state_dict`` moves between
PyTorch and tapegrad unchanged. Each layer and direction is one node of the tape (``tapegrad/ops/rnn.py``):
the input products of all time steps are one matrix product, the recurrence and its gradient are fused.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import dtypes
from ..autograd.declare import Tensor, wrap
from ..ops.rnn import gru_cell, layer_blocks, lstm_cell, own_tensor, recurrent_layer, rnn_relu_cell, rnn_tanh_cell
from ..ops.shape import cat, stack
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter
from .utils.rnn import PackedSequence

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


def _empty_parameter(shape, dtype):
    return Parameter(np.empty(shape, dtypes.as_dtype(dtype) or dtypes.get_default_dtype()))


def _zeros(shape, dtype):
    return wrap(np.zeros(shape, dtype))


def _apply_permutation(tensor: Tensor, permutation: Tensor, dim: int = 1) -> Tensor:
    return tensor.index_select(dim, permutation)


class RNNBase(Module):
    """RNNBase(mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, proj_size=0, device=None, dtype=None): what RNN, LSTM and GRU share.

    ``mode`` is 'LSTM', 'GRU', 'RNN_TANH' or 'RNN_RELU'. ``flatten_parameters()`` is accepted (a no-op: the
    weights are used where they are); ``all_weights`` lists each layer's and direction's parameters.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout) if isinstance(dropout, numbers.Number) else dropout
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1
        if not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={num_layers}", stacklevel=2)
        if not isinstance(bias, bool):
            raise TypeError(f"bias should be of type bool, got: {type(bias).__name__}")
        if not isinstance(batch_first, bool):
            raise TypeError(f"batch_first should be of type bool, got: {type(batch_first).__name__}")
        if not isinstance(input_size, int):
            raise TypeError(f"input_size should be of type int, got: {type(input_size).__name__}")
        if input_size <= 0:
            raise ValueError("input_size must be greater than zero")
        if not isinstance(hidden_size, int):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode == "LSTM":
            gate_size = 4 * hidden_size
        elif mode == "GRU":
            gate_size = 3 * hidden_size
        elif mode in ("RNN_TANH", "RNN_RELU"):
            gate_size = hidden_size
        else:
            raise ValueError("Unrecognized RNN mode: " + mode)
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        real_hidden_size = proj_size if proj_size > 0 else hidden_size
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input_size = input_size if layer == 0 else real_hidden_size * num_directions
                suffix = "_reverse" if direction == 1 else ""
                shapes: list[tuple[str, tuple[int, ...]]] = [("weight_ih_l{}{}", (gate_size, layer_input_size)),
                          ("weight_hh_l{}{}", (gate_size, real_hidden_size))]
                if bias:
                    shapes += [("bias_ih_l{}{}", (gate_size,)), ("bias_hh_l{}{}", (gate_size,))]
                if proj_size > 0:
                    shapes += [("weight_hr_l{}{}", (proj_size, hidden_size))]
                names = []
                for pattern, shape in shapes:
                    name = pattern.format(layer, suffix)
                    setattr(self, name, _empty_parameter(shape, dtype))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self) -> list:
        """The parameters in PyTorch's flat order (``_flat_weights_names``), read from the module each time."""
        return [getattr(self, name, None) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list:
        """The parameters of each layer and direction: [[weight_ih_l0, weight_hh_l0, bias_ih_l0, ...], ...]."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """flatten_parameters(): accepted for PyTorch's scripts; a no-op (there is no cuDNN weight buffer)."""

    def reset_parameters(self) -> None:
        """reset_parameters(): every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    # ------------------------------------------------------------------ PyTorch's checks
    def check_input(self, input: Tensor, batch_sizes) -> None:
        weight = self._flat_weights[0]
        if input.dtype != weight.dtype:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype ({weight.dtype}). "
                             f"Convert input: input.to({weight.dtype}), or convert model: model.to({input.dtype})")
        expected_input_dim = 2 if batch_sizes is not None else 3
        if input.dim() != expected_input_dim:
            raise RuntimeError(f"input must have {expected_input_dim} dimensions, got {input.dim()}")
        if self.input_size != input.size(-1):
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got "
                               f"{input.size(-1)}")

    def get_expected_hidden_size(self, input: Tensor, batch_sizes) -> tuple[int, int, int]:
        if batch_sizes is not None:
            mini_batch = int(batch_sizes[0])
        else:
            mini_batch = input.shape[0] if self.batch_first else input.shape[1]
        num_directions = 2 if self.bidirectional else 1
        size = self.proj_size if self.proj_size > 0 else self.hidden_size
        return (self.num_layers * num_directions, mini_batch, size)

    def check_hidden_size(self, hx: Tensor, expected_hidden_size, msg: str = "Expected hidden size {}, got {}"):
        if tuple(hx.shape) != tuple(expected_hidden_size):
            raise RuntimeError(msg.format(expected_hidden_size, list(hx.shape)))

    def check_forward_args(self, input: Tensor, hidden, batch_sizes) -> None:
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    def permute_hidden(self, hx, permutation):
        if permutation is None:
            return hx
        return _apply_permutation(hx, permutation)

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)

    # ------------------------------------------------------------------ the computation
    def _prepare(self, input, name):
        """(rows (N, features), batch_sizes array, packed info, (steps, batch), is_batched, batch_dim)."""
        if isinstance(input, PackedSequence):
            data, batch_sizes, sorted_indices, unsorted_indices = input
            return data, np.asarray(batch_sizes.detach().numpy(), dtype=np.int64), (input, sorted_indices,
                                                                                     unsorted_indices)
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: expected a Tensor or a PackedSequence as input, got {type(input).__name__}")
        return input, None, None

    def _run(self, x2, batch_sizes, hx, cx):
        """All layers over time-major rows ``x2`` (N, input_size): the last layer's rows and the final states."""
        mode = self.mode
        num_directions = 2 if self.bidirectional else 1
        hidden, proj = self.hidden_size, self.proj_size
        n = x2.shape[0]
        sizes = [int(b) for b in batch_sizes]
        batch = sizes[0]
        last_rows = None
        if len(set(sizes)) > 1:  # a packed batch: each sequence's final state is in the rows of its last step
            offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
            last_step = (np.asarray(sizes)[None, :] > np.arange(batch)[:, None]).sum(axis=1) - 1
            last_rows = wrap((offsets[last_step] + np.arange(batch)).astype(np.int64))
        weights = self._flat_weights
        per = len(weights) // (self.num_layers * num_directions)
        layer_input = x2
        h_finals, c_finals = [], []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(num_directions):
                k = layer * num_directions + direction
                w = weights[k * per:(k + 1) * per]
                w_ih, w_hh = w[0], w[1]
                b_ih, b_hh = (w[2], w[3]) if self.bias else (None, None)
                w_hr = w[-1] if proj > 0 else None
                reverse = direction == 1
                y = recurrent_layer(mode, layer_input, hx[k], None if cx is None else cx[k], w_ih, w_hh, b_ih, b_hh,
                                    w_hr, sizes, reverse)
                blocks = layer_blocks(y, mode, n, hidden, proj)
                outputs.append(blocks[0])
                for block, finals in zip(blocks, (h_finals, c_finals)):
                    if reverse:
                        finals.append(block[:batch])
                    elif last_rows is None:
                        finals.append(block[n - batch:])
                    else:
                        finals.append(block[last_rows])
            layer_output = outputs[0] if num_directions == 1 else cat(outputs, 1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_output = F.dropout(layer_output, self.dropout, True)
            layer_input = layer_output
        return layer_input, stack(h_finals), (stack(c_finals) if mode == "LSTM" else None)

    def _output_name(self, x2):
        """PyTorch's node of the output: its CPU LSTM of float32 without projections is oneDNN's layer, the others
        stack the steps' outputs, and two directions are concatenated."""
        if self.bidirectional:
            return "CatBackward0"
        if self.mode == "LSTM" and x2.dtype == np.float32 and self.proj_size == 0:
            return "MkldnnRnnLayerBackward0"
        return "StackBackward0"

    def _forward(self, input, hx, name):
        """The forward of RNN and GRU (one state tensor); LSTM overrides it for its pair of states."""
        data, batch_sizes, packed = self._prepare(input, name)
        lstm = self.mode == "LSTM"
        num_directions = 2 if self.bidirectional else 1
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        if packed is not None:
            _, sorted_indices, unsorted_indices = packed
            if data.ndim >= 1 and len(batch_sizes) == 0:
                raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
            max_batch_size = int(batch_sizes[0])
            if hx is None:
                hx = self._zero_states(num_directions, max_batch_size, real_hidden, data.dtype, lstm)
            else:
                hx = self.permute_hidden(hx, sorted_indices)
            self.check_forward_args(data, hx, batch_sizes)
            rows, is_batched, batch_dim = data, True, None
        else:
            if data.dim() not in (2, 3):
                instead = "tensor instead" if self.mode.startswith("RNN") else "instead"
                raise ValueError(f"{name}: Expected input to be 2D or 3D, got {data.dim()}D {instead}")
            is_batched = data.dim() == 3
            batch_dim = 0 if self.batch_first else 1
            if not is_batched:
                data = data.unsqueeze(batch_dim)
                hx = self._unbatched_hidden(hx, lstm)
            elif hx is not None:
                self._check_batched_hidden(hx, lstm)
            sorted_indices = unsorted_indices = None
            max_batch_size = data.size(0) if self.batch_first else data.size(1)
            if hx is None:
                hx = self._zero_states(num_directions, max_batch_size, real_hidden, data.dtype, lstm)
            self.check_forward_args(data, hx, None)
            if self.batch_first:
                data = data.transpose(0, 1)
            steps = data.shape[0]
            if steps == 0:
                raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
            batch_sizes = np.full(steps, max_batch_size, dtype=np.int64)
            rows = data.reshape(steps * max_batch_size, data.shape[2])
        h0, c0 = (hx if lstm else (hx, None))
        out_rows, h_n, c_n = self._run(rows, batch_sizes, h0, c0)
        hidden = (h_n, c_n) if lstm else h_n
        if packed is not None:
            output = PackedSequence(out_rows, packed[0].batch_sizes, sorted_indices, unsorted_indices)
            return output, self.permute_hidden(hidden, unsorted_indices)
        output = own_tensor(out_rows, (len(batch_sizes), max_batch_size, out_rows.shape[1]),
                            self._output_name(rows))
        if self.batch_first:  # (PyTorch's RNN and GRU transpose their own output in place; LSTM takes a view)
            output = output.transpose(0, 1) if lstm else output.transpose_(0, 1)
        if not is_batched:
            output = output.squeeze(batch_dim)
            hidden = (h_n.squeeze(1), c_n.squeeze(1)) if lstm else h_n.squeeze(1)
        return output, hidden

    def _zero_states(self, num_directions, batch, real_hidden, dtype, lstm):
        h = _zeros((self.num_layers * num_directions, batch, real_hidden), dtype)
        if not lstm:
            return h
        return h, _zeros((self.num_layers * num_directions, batch, self.hidden_size), dtype)

    def _unbatched_hidden(self, hx, lstm):
        if hx is None:
            return None
        if lstm:
            if hx[0].dim() != 2 or hx[1].dim() != 2:
                raise RuntimeError("For unbatched 2-D input, hx and cx should also be 2-D but got "
                                   f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
            return hx[0].unsqueeze(1), hx[1].unsqueeze(1)
        if hx.dim() != 2:
            raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but got {hx.dim()}-D tensor")
        return hx.unsqueeze(1)

    def _check_batched_hidden(self, hx, lstm):
        if lstm:
            if hx[0].dim() != 3 or hx[1].dim() != 3:
                raise RuntimeError("For batched 3-D input, hx and cx should also be 3-D but got "
                                   f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
        elif hx.dim() != 3:
            raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got {hx.dim()}-D tensor")


class RNN(RNNBase):
    """RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, device=None, dtype=None): a multi-layer Elman RNN,
    h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu).

    ``forward(input, hx=None) -> (output, h_n)``: ``input`` (L, N, H_in) (``batch_first``: (N, L, H_in)),
    unbatched (L, H_in), or a ``PackedSequence``; ``hx`` (num_layers * num_directions, N, H_out), zeros if
    omitted.

    >>> import tapegrad as tg
    >>> rnn = tg.nn.RNN(10, 20, 2)
    >>> output, h_n = rnn(tg.randn(5, 3, 10), tg.randn(2, 3, 20))
    >>> output.shape, h_n.shape
    (tapegrad.Size([5, 3, 20]), tapegrad.Size([2, 3, 20]))
    """

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(mode, *args, **kwargs)

    def forward(self, input, hx=None):
        return self._forward(input, hx, "RNN")


class LSTM(RNNBase):
    """LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False,
    proj_size=0, device=None, dtype=None): a multi-layer long short-term memory RNN, PyTorch's equations (gates
    i, f, g, o; with ``proj_size`` > 0, h_t = W_hr (o * tanh(c_t))).

    ``forward(input, hx=None) -> (output, (h_n, c_n))``; ``hx`` is the pair (h_0, c_0), zeros if omitted.

    >>> import tapegrad as tg
    >>> lstm = tg.nn.LSTM(10, 20, 2)
    >>> output, (h_n, c_n) = lstm(tg.randn(5, 3, 10))
    >>> output.shape, h_n.shape, c_n.shape
    (tapegrad.Size([5, 3, 20]), tapegrad.Size([2, 3, 20]), tapegrad.Size([2, 3, 20]))
    """

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)

    def get_expected_cell_size(self, input: Tensor, batch_sizes) -> tuple[int, int, int]:
        if batch_sizes is not None:
            mini_batch = int(batch_sizes[0])
        else:
            mini_batch = input.shape[0] if self.batch_first else input.shape[1]
        num_directions = 2 if self.bidirectional else 1
        return (self.num_layers * num_directions, mini_batch, self.hidden_size)

    def check_forward_args(self, input: Tensor, hidden, batch_sizes) -> None:
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden[0], self.get_expected_hidden_size(input, batch_sizes),
                               "Expected hidden[0] size {}, got {}")
        self.check_hidden_size(hidden[1], self.get_expected_cell_size(input, batch_sizes),
                               "Expected hidden[1] size {}, got {}")

    def permute_hidden(self, hx, permutation):
        if permutation is None:
            return hx
        return _apply_permutation(hx[0], permutation), _apply_permutation(hx[1], permutation)

    def forward(self, input, hx=None):
        return self._forward(input, hx, "LSTM")


class GRU(RNNBase):
    """GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False,
    device=None, dtype=None): a multi-layer gated recurrent unit RNN, PyTorch's equations (gates r, z, n;
    n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn)), h_t = (1 - z_t) * n_t + z_t * h_{t-1}).

    >>> import tapegrad as tg
    >>> gru = tg.nn.GRU(10, 20, batch_first=True)
    >>> output, h_n = gru(tg.randn(3, 5, 10))
    >>> output.shape, h_n.shape
    (tapegrad.Size([3, 5, 20]), tapegrad.Size([1, 3, 20]))
    """

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input, hx=None):
        return self._forward(input, hx, "GRU")


# ---------------------------------------------------------------------- cells
class RNNCellBase(Module):
    """RNNCellBase(input_size, hidden_size, bias, num_chunks, device=None, dtype=None): what the cells share:
    ``weight_ih`` (num_chunks * hidden_size, input_size), ``weight_hh`` (num_chunks * hidden_size, hidden_size),
    ``bias_ih``, ``bias_hh``, all from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = _empty_parameter((num_chunks * hidden_size, input_size), dtype)
        self.weight_hh = _empty_parameter((num_chunks * hidden_size, hidden_size), dtype)
        if bias:
            self.bias_ih = _empty_parameter((num_chunks * hidden_size,), dtype)
            self.bias_hh = _empty_parameter((num_chunks * hidden_size,), dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def reset_parameters(self) -> None:
        """reset_parameters(): every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _batched(self, name, input, hx):
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None and hx.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected hidden to be 1D or 2D, got {hx.dim()}D instead")
        is_batched = input.dim() == 2
        if not is_batched:
            input = input.unsqueeze(0)
        if hx is None:
            hx = _zeros((input.size(0), self.hidden_size), input.dtype)
        elif not is_batched:
            hx = hx.unsqueeze(0)
        return input, hx, is_batched


class RNNCell(RNNCellBase):
    """RNNCell(input_size, hidden_size, bias=True, nonlinearity='tanh', device=None, dtype=None): one Elman step,
    h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu); ``forward(input, hx=None) -> h'``.

    >>> import tapegrad as tg
    >>> cell = tg.nn.RNNCell(10, 20)
    >>> cell(tg.randn(3, 10)).shape
    tapegrad.Size([3, 20])
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, hx, is_batched = self._batched("RNNCell", input, hx)
        if self.nonlinearity == "tanh":
            ret = rnn_tanh_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        elif self.nonlinearity == "relu":
            ret = rnn_relu_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        return ret if is_batched else ret.squeeze(0)


class LSTMCell(RNNCellBase):
    """LSTMCell(input_size, hidden_size, bias=True, device=None, dtype=None): one LSTM step;
    ``forward(input, hx=None) -> (h', c')`` with ``hx`` the pair (h, c), zeros if omitted.

    >>> import tapegrad as tg
    >>> cell = tg.nn.LSTMCell(10, 20)
    >>> h, c = cell(tg.randn(3, 10))
    >>> h.shape, c.shape
    (tapegrad.Size([3, 20]), tapegrad.Size([3, 20]))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx=None) -> tuple[Tensor, Tensor]:
        if input.dim() not in (1, 2):
            raise ValueError(f"LSTMCell: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None:
            for idx, value in enumerate(hx):
                if value.dim() not in (1, 2):
                    raise ValueError(f"LSTMCell: Expected hx[{idx}] to be 1D or 2D, got {value.dim()}D instead")
        is_batched = input.dim() == 2
        if not is_batched:
            input = input.unsqueeze(0)
        if hx is None:
            zeros = _zeros((input.size(0), self.hidden_size), input.dtype)
            hx = (zeros, zeros)
        elif not is_batched:
            hx = (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        h, c = lstm_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return (h, c) if is_batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """GRUCell(input_size, hidden_size, bias=True, device=None, dtype=None): one GRU step;
    ``forward(input, hx=None) -> h'``.

    >>> import tapegrad as tg
    >>> cell = tg.nn.GRUCell(10, 20)
    >>> cell(tg.randn(3, 10), tg.randn(3, 20)).shape
    tapegrad.Size([3, 20])
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, hx, is_batched = self._batched("GRUCell", input, hx)
        ret = gru_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return ret if is_batched else ret.squeeze(0)
