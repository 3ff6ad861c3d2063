"""Sequential: a Keras model (``add``, ``compile``, ``fit``, ``evaluate``, ``predict``, ``summary``) on tapegrad.

A training step is plain tapegrad: forward through the layers, loss (+ regularization penalties), backward,
optimizer step. Batches are gathered with one fancy index per epoch order, never per sample.
"""

import math
import os
import time

import numpy as np

from .. import nn
from .. import random as _random
from .._tensor import Tensor
from ..autograd.grad_mode import no_grad
from ..creation import as_tensor
from ..serialization import CheckpointError, load, save
from . import callbacks as callbacks_module
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from .activations import _ACTIVATIONS
from .layers import KerasTensor, Layer
from .progress import Progbar


def _array(x, what, where):
    if x is None:
        raise ValueError(f"{where}: {what} is required")
    if isinstance(x, Tensor):
        x = x.detach().numpy()
    try:
        a = np.asarray(x)
    except Exception:
        raise TypeError(f"{where}: {what} must be array-like, got {type(x).__name__}") from None
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{where}: {what} must be numeric, got dtype {a.dtype}")
    return a


def _callbacks(callbacks, where):
    if callbacks is None:
        return []
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"{where}: callbacks must be a list, e.g. callbacks=[{type(callbacks).__name__}(...)]")
    return list(callbacks)


def _file_name(f):
    return repr(os.fsdecode(f)) if isinstance(f, (str, bytes, os.PathLike)) else repr(getattr(f, "name", f))


class IncompatibleWeightsError(CheckpointError, ValueError):
    """A weights file that is a valid checkpoint but does not fit the model (names, shapes or types differ).

    Both a ``CheckpointError`` (so every refusal of a file is a RuntimeError) and a ``ValueError`` (as Keras)."""


def _positive_int(value, what, where):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{where}: {what} must be a positive integer, got {value!r}")
    return int(value)


def _verbosity(verbose, where):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"{where}: verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)


class Sequential(Layer):
    """Sequential(layers=None, name=None): a linear stack of layers.

    >>> import numpy as np, tapegrad.keras as keras
    >>> model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(4, activation="relu"),
    ...                           keras.layers.Dense(1, activation="sigmoid")])
    >>> model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    >>> history = model.fit(np.zeros((8, 2)), np.zeros(8), epochs=2, verbose=0)
    >>> sorted(history.history)
    ['accuracy', 'loss']
    """

    def __init__(self, layers=None, name=None, trainable=True):
        super().__init__(name=name, trainable=trainable)
        self.stack = nn.ModuleList()
        self.input_spec = None
        self.compiled = False
        self.stop_training = False
        self._current_epoch = 0
        for layer in layers or []:
            self.add(layer)

    # ------------------------------------------------------------------ structure
    @property
    def layers(self):
        return list(self.stack)

    def add(self, layer):
        """add(layer): append a layer (or ``keras.Input(...)`` as the first element)."""
        if isinstance(layer, KerasTensor):
            if len(self.stack):
                raise ValueError("Sequential.add: keras.Input must come before any layer")
            self.input_spec = layer.shape[1:]
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add: expected a Keras layer (keras.layers.Dense, ...) or keras.Input, got "
                            f"{type(layer).__name__}")
        if not len(self.stack) and getattr(layer, "declared_input_shape", None) is not None:
            self.input_spec = layer.declared_input_shape
        self.stack.append(layer)
        if not self._trainable:
            layer.trainable = False
        self.built = False
        if self.input_spec is not None:
            self.build((None,) + tuple(self.input_spec))

    def build(self, input_shape):
        """build(input_shape): create every layer's weights by running a zero batch through the stack."""
        if not len(self.stack):
            raise ValueError("Sequential: the model has no layers; add some before building or fitting it")
        shape = tuple(1 if s is None else s for s in input_shape)
        with no_grad():
            self._output_shapes = []
            x = as_tensor(np.zeros(shape, dtype=np.float32))
            was = self.training
            self.eval()
            for layer in self.stack:
                x = layer(x)
                self._output_shapes.append((None,) + tuple(x.shape[1:]))
            self.train(was)
        self.input_spec = tuple(input_shape[1:])
        self.built = True

    def forward(self, x, return_logits=False):
        """The output of the stack; with ``return_logits``, also the last layer's pre-activation output."""
        layers = self.layers
        for layer in layers[:-1]:
            x = layer(x, training=self.training)  # a nested model runs in its outer model's mode
        last = layers[-1]
        if return_logits and hasattr(last, "logits") and self._fused_activation(last):
            z = last.logits(x)
            return last.activation(z), z
        if return_logits and self._fused_activation(last) and len(layers) > 1:
            return last(x), x  # an Activation layer after a linear layer: x holds the logits
        out = last(x, training=self.training)
        return (out, None) if return_logits else out

    def _fused_activation(self, layer):
        act = getattr(layer, "activation", None)
        fuses = getattr(self, "loss", None) and self.loss.fuses
        return fuses is not None and act is _ACTIVATIONS.get(fuses) and not self.loss.from_logits

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, run_eagerly=None,
                jit_compile=None, steps_per_execution=None, **kwargs):
        """compile(optimizer='rmsprop', loss=None, metrics=None): choose how ``fit`` trains and what it reports."""
        if kwargs:
            raise TypeError(f"compile: unexpected arguments {sorted(kwargs)}")
        if loss_weights is not None:
            raise NotImplementedError("compile: loss_weights is not supported (a Sequential model has one output)")
        if loss is None:
            raise ValueError("compile: a loss is required, e.g. loss='sparse_categorical_crossentropy'")
        if isinstance(metrics, (str, metrics_module.Metric)) or callable(metrics):
            raise TypeError(f"compile: metrics must be a list, e.g. metrics=[{metrics!r}]")
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = losses_module.get(loss)
        self.metrics_list = [metrics_module.get(m, self.loss) for m in (metrics or [])]
        self.compiled = True

    def _require_compiled(self, where):
        if not getattr(self, "compiled", False):
            raise RuntimeError(f"{where}: the model is not compiled; call model.compile(optimizer=..., loss=..., "
                               f"metrics=[...]) before {where}()")

    # ------------------------------------------------------------------ fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, initial_epoch=0, steps_per_epoch=None, validation_batch_size=None,
            **kwargs):
        """fit(x, y, batch_size=32, epochs=1, verbose='auto', callbacks=None, validation_split=0.0,
        validation_data=None, shuffle=True, initial_epoch=0) -> History

        Every input check happens before the first step (and before any callback runs): fit before compile,
        mismatched lengths, non-finite inputs, labels outside the output's range, a loss that does not fit the
        output's shape. ``validation_split`` takes the last fraction of the samples, before shuffling, as Keras.
        """
        self._require_compiled("fit")
        if kwargs:
            raise TypeError(f"fit: unexpected arguments {sorted(kwargs)}")
        if steps_per_epoch is not None:
            raise NotImplementedError("fit: steps_per_epoch is not supported; an epoch is one pass over x")
        callbacks = _callbacks(callbacks, "fit")
        x, y = _array(x, "x", "fit"), _array(y, "y", "fit")
        batch_size = _positive_int(32 if batch_size is None else batch_size, "batch_size", "fit")
        epochs, initial_epoch = int(epochs), int(initial_epoch)
        verbose = _verbosity(verbose, "fit")
        self._check_xy(x, y, "fit")
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("fit: validation_data must be a pair (x_val, y_val)")
            x_val, y_val = _array(validation_data[0], "x_val", "fit"), _array(validation_data[1], "y_val", "fit")
            self._check_xy(x_val, y_val, "fit (validation_data)")
        elif validation_split:
            if not 0 < validation_split < 1:
                raise ValueError(f"fit: validation_split must be in (0, 1), got {validation_split}")
            split = int(math.floor(len(x) * (1 - validation_split)))  # Keras: the last samples, before shuffling
            if split < 1 or split == len(x):
                raise ValueError(f"fit: validation_split={validation_split} leaves no training or validation "
                                 f"samples out of {len(x)}")
            x, x_val, y, y_val = x[:split], x[split:], y[:split], y[split:]
        else:
            x_val = y_val = None
        opt = self._bound_optimizer()

        history = callbacks_module.History()
        steps = math.ceil(len(x) / batch_size)
        cbs = callbacks_module.CallbackList(callbacks + [history], self,
                                            {"epochs": epochs, "steps": steps, "verbose": verbose})
        skip_nonfinite = any(getattr(c, "skips_nonfinite_updates", False) for c in cbs.callbacks)
        xs = x.astype(np.float32, copy=False)
        self.history = history
        self.stop_training = False
        epoch_logs = {}
        cbs.on_train_begin({})
        for epoch in range(initial_epoch, epochs):
            self._current_epoch = epoch
            self.train()
            for m in self.metrics_list:
                m.reset_state()
            cbs.on_epoch_begin(epoch, {})
            if verbose:
                print(f"Epoch {epoch + 1}/{epochs}")
            bar = Progbar(steps, verbose)
            order = _random.rng().permutation(len(x)) if shuffle else np.arange(len(x))
            total, seen, logs = 0.0, 0, {}
            for step in range(steps):
                idx = order[step * batch_size:(step + 1) * batch_size]
                xb, yb = xs[idx], y[idx]
                cbs.on_train_batch_begin(step, {})
                out, loss = self._train_step(opt, xb, yb, skip_nonfinite)
                total += loss * len(idx)
                seen += len(idx)
                for m in self.metrics_list:
                    m.update_state(yb, out)
                logs = {"loss": total / seen, **{m.name: m.result() for m in self.metrics_list}}
                cbs.on_train_batch_end(step, {**logs, "loss": loss if not math.isfinite(loss) else logs["loss"]})
                bar.update(step + 1, logs)
                if self.stop_training:
                    break
            epoch_logs = dict(logs)
            if x_val is not None:
                val = self._evaluate(x_val, y_val, validation_batch_size or batch_size, cbs)
                epoch_logs.update({f"val_{k}": v for k, v in val.items()})
                self.train()
            cbs.on_epoch_end(epoch, epoch_logs)
            bar.update(bar.last_step, epoch_logs, final=True)  # as Keras's progress bar, the last callback
            if self.stop_training:
                break
        cbs.on_train_end(epoch_logs)
        return history

    def _bound_optimizer(self):
        """The tapegrad optimizer over exactly this model's weights (made, or made again if the model changed)."""
        params = list(self.parameters())
        if not params:
            return None
        opt = self.optimizer.torch_optimizer
        bound = None if opt is None else {id(p) for g in opt.param_groups for p in g["params"]}
        if bound != {id(p) for p in params}:
            if isinstance(self.optimizer, optimizers_module._Wrapped):
                raise ValueError("fit: the tapegrad optimizer given to compile() does not hold this model's weights; "
                                 "make it from model.parameters() after the model is built, or pass a Keras "
                                 "optimizer (e.g. 'adam')")
            opt = self.optimizer.bind(params)
        return opt

    def _penalty(self):
        """The sum of every layer's regularization penalties (a tensor), or None without regularizers."""
        total = None
        for layer in self.modules():
            if layer is not self and isinstance(layer, Layer):
                for penalty in layer.regularization_losses():
                    total = penalty if total is None else total + penalty
        return total

    def _train_step(self, opt, xb, yb, skip_nonfinite):
        out, logits = self.forward(as_tensor(xb), return_logits=True)
        loss = self.loss(as_tensor(yb), out, logits)
        penalty = self._penalty()
        if penalty is not None:
            loss = loss + penalty
        value = loss.item()
        if (skip_nonfinite and not math.isfinite(value)) or opt is None or not loss.requires_grad:
            return out.detach().numpy(), value  # nothing to update: a skipped step, or no trainable weight
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return out.detach().numpy(), value

    def _check_xy(self, x, y, where):
        if x.ndim == 0 or y.ndim == 0:
            raise ValueError(f"{where}: x and y must have a batch axis, got shapes {x.shape} and {y.shape}")
        if len(x) != len(y):
            raise ValueError(f"{where}: x and y have different lengths: x has {len(x)} samples, y has {len(y)}")
        if len(x) == 0:
            raise ValueError(f"{where}: x and y hold no samples")
        self._check_x(x, where)
        units = int(np.prod(self._output_shapes[-1][1:]))
        self.loss.check(y, units)
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise ValueError(f"{where}: y contains NaN or infinite values")

    def _check_x(self, x, where):
        """Build the model from ``x``'s shape, or check ``x`` against the shape it was built for."""
        if x.ndim < 2 and not (self.built and self.input_spec == ()):
            raise ValueError(f"{where}: x of shape {x.shape} has no feature axis; give one sample per row, e.g. "
                             f"x.reshape(-1, 1)")
        if not self.built:
            self.build((None,) + x.shape[1:])
        elif self.input_spec is not None and tuple(self.input_spec) != tuple(x.shape[1:]):
            expected = ", ".join("?" if s is None else str(s) for s in self.input_spec)
            if len(self.input_spec) != x.ndim - 1 or any(s is not None and s != t
                                                         for s, t in zip(self.input_spec, x.shape[1:])):
                raise ValueError(f"{where}: the model expects inputs of shape (n, {expected}), got x of shape "
                                 f"{x.shape}")
        if x.dtype.kind == "f" and not np.isfinite(x).all():
            raise ValueError(f"{where}: x contains NaN or infinite values")

    # ------------------------------------------------------------------ evaluate / predict
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", callbacks=None, return_dict=False,
                 **kwargs):
        """evaluate(x, y, batch_size=32, verbose='auto', callbacks=None, return_dict=False)
        -> loss, or [loss, *metrics] when metrics were compiled (a dict with ``return_dict``).

        The loss includes the regularization penalties, as in training (and in Keras).
        """
        self._require_compiled("evaluate")
        if kwargs:
            raise TypeError(f"evaluate: unexpected arguments {sorted(kwargs)}")
        x, y = _array(x, "x", "evaluate"), _array(y, "y", "evaluate")
        batch_size = _positive_int(32 if batch_size is None else batch_size, "batch_size", "evaluate")
        verbose = _verbosity(verbose, "evaluate")
        self._check_xy(x, y, "evaluate")
        cbs = callbacks_module.CallbackList(_callbacks(callbacks, "evaluate"), self,
                                            {"steps": math.ceil(len(x) / batch_size), "verbose": verbose})
        was = self.training
        start = time.perf_counter()
        results = self._evaluate(x, y, batch_size, cbs)
        self.train(was)
        if verbose:
            bar = Progbar(math.ceil(len(x) / batch_size), verbose, start=start)
            bar.update(bar.total, results, final=True)
        if return_dict:
            return results
        return results["loss"] if not self.metrics_list else list(results.values())

    def _evaluate(self, x, y, batch_size, cbs):
        """The loss and metrics over (x, y) in inference mode, calling the test hooks of ``cbs``."""
        for m in self.metrics_list:
            m.reset_state()
        total = 0.0
        self.eval()
        cbs.on_test_begin({})
        with no_grad():
            penalty = self._penalty()
            penalty = float(penalty.item() if isinstance(penalty, Tensor) else penalty or 0.0)
            for step, start in enumerate(range(0, len(x), batch_size)):
                cbs.on_test_batch_begin(step, {})
                xb, yb = x[start:start + batch_size].astype(np.float32, copy=False), y[start:start + batch_size]
                out, logits = self.forward(as_tensor(xb), return_logits=True)
                total += (self.loss(as_tensor(yb), out, logits).item() + penalty) * len(xb)
                for m in self.metrics_list:
                    m.update_state(yb, out.numpy())
                seen = start + len(xb)
                logs = {"loss": total / seen, **{m.name: m.result() for m in self.metrics_list}}
                cbs.on_test_batch_end(step, logs)
        cbs.on_test_end(logs)
        return logs

    def predict(self, x, batch_size=None, verbose="auto", callbacks=None, **kwargs):
        """predict(x, batch_size=32, verbose='auto', callbacks=None) -> numpy array of outputs (inference mode: no
        dropout, moving batch statistics, no graph)."""
        if kwargs:
            raise TypeError(f"predict: unexpected arguments {sorted(kwargs)}")
        x = _array(x, "x", "predict")
        if x.ndim == 0:
            raise ValueError(f"predict: x must have a batch axis, got shape {x.shape}")
        batch_size = _positive_int(32 if batch_size is None else batch_size, "batch_size", "predict")
        verbose = _verbosity(verbose, "predict")
        self._check_x(x, "predict")
        steps = math.ceil(len(x) / batch_size)
        cbs = callbacks_module.CallbackList(_callbacks(callbacks, "predict"), self,
                                            {"steps": steps, "verbose": verbose})
        bar = Progbar(steps, verbose)
        outs = []
        was = self.training
        self.eval()
        cbs.on_predict_begin({})
        with no_grad():
            for step, start in enumerate(range(0, len(x), batch_size)):
                cbs.on_predict_batch_begin(step, {})
                outs.append(self.forward(as_tensor(x[start:start + batch_size].astype(np.float32, copy=False))).numpy())
                cbs.on_predict_batch_end(step, {"outputs": outs[-1]})
                bar.update(step + 1, {}, final=step + 1 == steps)
        cbs.on_predict_end({})
        self.train(was)
        return np.concatenate(outs) if outs else np.zeros((0,) + tuple(self._output_shapes[-1][1:]), np.float32)

    def __call__(self, x, training=False):
        """model(x, training=False) -> Tensor: the forward pass (dropout and batch statistics only in training).

        As in Keras, a direct call is in inference mode unless ``training=True``; a model nested in another
        model is called with its outer model's mode.
        """
        if not isinstance(x, Tensor):
            x = as_tensor(np.asarray(x, dtype=np.float32))
        if not self.built:
            self.build((None,) + tuple(x.shape[1:]))
        return Layer.__call__(self, x, training=bool(training))

    # ------------------------------------------------------------------ weights
    def get_weights(self):
        """get_weights() -> every layer's weights, in order, as numpy arrays in Keras's layouts."""
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights):
        """set_weights(weights): the inverse of get_weights(); counts and shapes are checked before any change."""
        weights = list(weights)
        current = [layer.get_weights() for layer in self.layers]
        counts = [len(ws) for ws in current]
        if len(weights) != sum(counts):
            raise ValueError(f"set_weights: the model has {sum(counts)} weights, got {len(weights)}")
        chunks, i = [], 0
        for layer, n, now in zip(self.layers, counts, current):
            expected = [w.shape for w in now]
            got = [np.shape(w) for w in weights[i:i + n]]
            if expected != got:
                raise ValueError(f"set_weights: layer {layer.name!r} expects shapes {expected}, got {got}")
            chunks.append(weights[i:i + n])
            i += n
        for layer, chunk in zip(self.layers, chunks):
            layer.set_weights(chunk)

    def save_weights(self, filepath, overwrite=True):
        """save_weights(filepath, overwrite=True): write every weight (moving statistics too) to a path, atomically,
        or to a binary file object, without pickle (``tapegrad.save``)."""
        if not self.built:
            raise ValueError("save_weights: the model has no weights yet; build it (keras.Input, fit or predict) first")
        if not overwrite and isinstance(filepath, (str, bytes, os.PathLike)) and os.path.exists(filepath):
            raise FileExistsError(f"save_weights: {_file_name(filepath)} exists and overwrite=False")
        save(self.state_dict(), filepath)

    def load_weights(self, filepath, skip_mismatch=False):
        """load_weights(filepath): load weights saved by ``save_weights`` (a path or a binary file object); the
        architecture must match: every name and shape is checked before any weight changes.

        A file that is damaged or hostile raises ``tapegrad.serialization.CheckpointError`` (a RuntimeError);
        weights that do not fit this model raise :class:`IncompatibleWeightsError`, which is both a
        CheckpointError and the ValueError Keras raises."""
        if skip_mismatch:
            raise NotImplementedError("load_weights: skip_mismatch=True is not supported")
        if not self.built:
            raise ValueError("load_weights: build the model first (keras.Input(shape=...) or one call), so its "
                             "weights exist to load into")
        state = load(filepath)
        own = self.state_dict()
        if not isinstance(state, dict):
            raise IncompatibleWeightsError(f"load_weights: {_file_name(filepath)} does not hold model weights (it "
                                           f"holds a {type(state).__name__}, not a dict of weights)")
        problems = [f"missing {k}" for k in own if k not in state]
        problems += [f"unexpected {k!r}" for k in state if k not in own]
        problems += [f"{k} is a {type(state[k]).__name__}, not a tensor" for k in own
                     if k in state and not isinstance(state[k], (Tensor, np.ndarray))]
        problems += [f"{k}: file has shape {tuple(np.shape(state[k]))}, model has {tuple(own[k].shape)}" for k in own
                     if isinstance(state.get(k), (Tensor, np.ndarray)) and np.shape(state[k]) != tuple(own[k].shape)]
        if problems:
            raise IncompatibleWeightsError(f"load_weights: {_file_name(filepath)} does not fit this model: "
                                           + "; ".join(problems))
        self.load_state_dict(state)

    def _weight_tensors(self):
        return [w for layer in self.layers for w in layer._weight_tensors()]

    def summary(self, print_fn=print):
        """summary(): print each layer's type, output shape and parameter count, and the totals."""
        if not self.built:
            raise ValueError("summary: the model is not built yet; start it with keras.Input(shape=...) or call "
                             "fit/build first")
        rows = [(f"{layer.name} ({type(layer).__name__})", str(shape), f"{layer.count_params():,}")
                for layer, shape in zip(self.layers, self._output_shapes)]
        widths = [max(len(h), *(len(r[i]) for r in rows)) + 2 for i, h in
                  enumerate(("Layer (type)", "Output Shape", "Param #"))]
        line = "─" * sum(widths)
        out = [f'Model: "{self.name}"', line,
               "".join(h.ljust(w) for h, w in zip(("Layer (type)", "Output Shape", "Param #"), widths)), line]
        out += ["".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
        total = self.count_params()
        trainable = sum(p.numel() for p in self.trainable_weights)
        out += [line, f" Total params: {total:,}", f" Trainable params: {trainable:,}",
                f" Non-trainable params: {total - trainable:,}"]
        text = "\n".join(out)
        print_fn(text)
        return None
