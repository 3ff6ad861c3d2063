"""Sequential: a Keras model (``add``, ``compile``, ``fit``, ``evaluate``, ``predict``, ``summary``) on tapegrad.

A training step is plain tapegrad: forward through the layers, loss (+ regularization penalties), backward,
optimizer step. Batches are gathered with one fancy index per epoch order, never per sample.
"""

import math

import numpy as np

from .. import nn, no_grad
from .. import random as _random
from .._tensor import Tensor
from ..serialization import load, save
from . import callbacks as callbacks_module
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from .activations import _ACTIVATIONS
from .layers import KerasTensor, Layer
from .progress import Progbar


def _array(x, what):
    if isinstance(x, Tensor):
        x = x.detach().numpy()
    try:
        a = np.asarray(x)
    except Exception:
        raise TypeError(f"fit: {what} must be array-like, got {type(x).__name__}") from None
    if a.dtype.kind not in "biuf":
        raise TypeError(f"fit: {what} must be numeric, got dtype {a.dtype}")
    return a


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
        super().__init__(name=name)
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
        if not isinstance(layer, nn.Module):
            raise TypeError(f"Sequential.add: expected a layer, got {type(layer).__name__}")
        if not len(self.stack) and getattr(layer, "declared_input_shape", None) is not None:
            self.input_spec = layer.declared_input_shape
        self.stack.append(layer)
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
            x = Tensor(np.zeros(shape, dtype=np.float32))
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
            x = layer(x)
        last = layers[-1]
        if return_logits and hasattr(last, "logits") and self._fused_activation(last):
            z = last.logits(x)
            return last.activation(z), z
        if return_logits and self._fused_activation(last) and len(layers) > 1:
            return last(x), x  # an Activation layer after a linear layer: x holds the logits
        out = last(x)
        return (out, None) if return_logits else out

    def _fused_activation(self, layer):
        act = getattr(layer, "activation", None)
        fuses = getattr(self, "loss", None) and self.loss.fuses
        return fuses is not None and act is _ACTIVATIONS.get(fuses) and not self.loss.from_logits

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, run_eagerly=None,
                jit_compile=None, **kwargs):
        """compile(optimizer='rmsprop', loss=None, metrics=None): choose how ``fit`` trains and what it reports."""
        if loss is None:
            raise ValueError("compile: a loss is required, e.g. loss='sparse_categorical_crossentropy'")
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = losses_module.get(loss)
        self.metrics_list = [metrics_module.get(m, self.loss) for m in (metrics or [])]
        self.compiled = True

    # ------------------------------------------------------------------ fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, initial_epoch=0, steps_per_epoch=None, **kwargs):
        """fit(x, y, batch_size=32, epochs=1, verbose='auto', callbacks=None, validation_split=0.0,
        validation_data=None, shuffle=True, initial_epoch=0) -> History

        Every input check happens before the first step: mismatched lengths, labels outside the output's
        range, a loss that does not fit the output's shape, fit before compile.
        """
        if not self.compiled:
            raise RuntimeError("fit: you must call compile(optimizer, loss, metrics) before fit()")
        if kwargs:
            raise TypeError(f"fit: unexpected arguments {sorted(kwargs)}")
        x, y = _array(x, "x"), _array(y, "y")
        batch_size = 32 if batch_size is None else int(batch_size)
        if batch_size < 1:
            raise ValueError(f"fit: batch_size must be positive, got {batch_size}")
        self._check_xy(x, y, "fit")
        if validation_data is not None:
            if len(validation_data) != 2:
                raise ValueError("fit: validation_data must be a pair (x_val, y_val)")
            x_val, y_val = _array(validation_data[0], "x_val"), _array(validation_data[1], "y_val")
            self._check_xy(x_val, y_val, "fit (validation_data)")
        elif validation_split:
            if not 0 < validation_split < 1:
                raise ValueError(f"fit: validation_split must be in (0, 1), got {validation_split}")
            split = int(len(x) * (1 - validation_split))  # Keras takes the last samples, before shuffling
            if split < 1 or split == len(x):
                raise ValueError(f"fit: validation_split={validation_split} leaves no training or validation "
                                 f"samples out of {len(x)}")
            x, x_val, y, y_val = x[:split], x[split:], y[:split], y[split:]
        else:
            x_val = y_val = None

        if self.optimizer.torch_optimizer is None:
            self.optimizer.bind(self.parameters())
        opt = self.optimizer.torch_optimizer
        verbose = 1 if verbose == "auto" else int(verbose)
        history = callbacks_module.History()
        cbs = list(callbacks or [])
        skip_nonfinite = any(getattr(c, "skips_nonfinite_updates", False) for c in cbs)
        steps = math.ceil(len(x) / batch_size)
        cb = callbacks_module.CallbackList(cbs + [history], self,
                                           {"epochs": epochs, "steps": steps, "verbose": verbose})
        xt_all, yt_all = x.astype(np.float32, copy=False), y
        self.stop_training = False
        cb.on_train_begin({})
        for epoch in range(initial_epoch, epochs):
            self._current_epoch = epoch
            self.train()
            cb.on_epoch_begin(epoch, {})
            if verbose == 1 or verbose == 2:
                print(f"Epoch {epoch + 1}/{epochs}")
            bar = Progbar(steps, verbose)
            order = _random.rng().permutation(len(x)) if shuffle else np.arange(len(x))
            for m in self.metrics_list:
                m.reset_state()
            total, seen = 0.0, 0
            logs = {}
            for step in range(steps):
                idx = order[step * batch_size:(step + 1) * batch_size]
                xb, yb = xt_all[idx], yt_all[idx]
                cb.on_train_batch_begin(step, {})
                out, loss = self._train_step(opt, xb, yb, skip_nonfinite)
                total += loss * len(idx)
                seen += len(idx)
                for m in self.metrics_list:
                    m.update_state(yb, out)
                logs = {m.name: m.result() for m in self.metrics_list}
                logs["loss"] = total / seen
                cb.on_train_batch_end(step, {**logs, "loss": loss if not math.isfinite(loss) else logs["loss"]})
                bar.update(step + 1, logs, final=False)
                if self.stop_training:
                    break
            if x_val is not None and not self.stop_training:
                val = self.evaluate(x_val, y_val, batch_size=max(batch_size, 256), verbose=0, return_dict=True)
                logs.update({f"val_{k}": v for k, v in val.items()})
            bar.update(step + 1, logs, final=True)
            cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cb.on_train_end({})
        self.history = history
        return history

    def _train_step(self, opt, xb, yb, skip_nonfinite):
        xt, yt = Tensor(xb), Tensor(yb)
        out, logits = self.forward(xt, return_logits=True)
        loss = self.loss(yt, out, logits)
        for layer in self.modules():
            if layer is not self and isinstance(layer, Layer):
                for penalty in layer.regularization_losses():
                    loss = loss + penalty
        value = loss.item()
        if skip_nonfinite and not math.isfinite(value):
            return out.detach().numpy(), value
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return out.detach().numpy(), value

    def _check_xy(self, x, y, where):
        if len(x) != len(y):
            raise ValueError(f"{where}: x and y have different lengths: x has {len(x)} samples, y has {len(y)}")
        if len(x) == 0:
            raise ValueError(f"{where}: no samples to train on")
        if not self.built or (self.input_spec is not None and tuple(self.input_spec) != tuple(x.shape[1:])):
            if self.built and self.input_spec is not None:
                expected = ", ".join(map(str, self.input_spec))
                raise ValueError(f"{where}: the model expects inputs of shape (n, {expected}), got {x.shape}")
            self.build((None,) + x.shape[1:])
        units = int(np.prod(self._output_shapes[-1][1:]))
        self.loss.check(y, units)
        if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
            raise ValueError(f"{where}: x contains NaN or infinite values")

    # ------------------------------------------------------------------ evaluate / predict
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", return_dict=False, **kwargs):
        """evaluate(x, y, batch_size=32) -> loss, or [loss, *metrics] when metrics were compiled."""
        if not self.compiled:
            raise RuntimeError("evaluate: you must call compile() before evaluate()")
        x, y = _array(x, "x"), _array(y, "y")
        self._check_xy(x, y, "evaluate")
        batch_size = batch_size or 32
        for m in self.metrics_list:
            m.reset_state()
        total = 0.0
        self.eval()
        with no_grad():
            for start in range(0, len(x), batch_size):
                xb, yb = x[start:start + batch_size].astype(np.float32, copy=False), y[start:start + batch_size]
                out, logits = self.forward(Tensor(xb), return_logits=True)
                total += self.loss(Tensor(yb), out, logits).item() * len(xb)
                for m in self.metrics_list:
                    m.update_state(yb, out.numpy())
        self.train()
        results = {"loss": total / len(x)}
        results.update({m.name: m.result() for m in self.metrics_list})
        if verbose != 0:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in results.items()))
        if return_dict:
            return results
        return results["loss"] if not self.metrics_list else list(results.values())

    def predict(self, x, batch_size=None, verbose="auto", **kwargs):
        """predict(x, batch_size=32) -> numpy array of outputs (inference mode: no dropout, no graph)."""
        x = _array(x, "x")
        if not self.built:
            self.build((None,) + x.shape[1:])
        batch_size = batch_size or 32
        outs = []
        self.eval()
        with no_grad():
            for start in range(0, len(x), batch_size):
                outs.append(self.forward(Tensor(x[start:start + batch_size].astype(np.float32, copy=False))).numpy())
        self.train()
        return np.concatenate(outs) if outs else np.zeros((0,) + tuple(self._output_shapes[-1][1:]), np.float32)

    def __call__(self, x, training=False):
        if not isinstance(x, Tensor):
            x = Tensor(np.asarray(x, dtype=np.float32))
        if not self.built:
            self.build((None,) + tuple(x.shape[1:]))
        return nn.Module.__call__(self, x)

    # ------------------------------------------------------------------ weights
    def get_weights(self):
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights):
        weights = list(weights)
        for layer in self.layers:
            n = len(layer.get_weights())
            layer.set_weights(weights[:n])
            weights = weights[n:]
        if weights:
            raise ValueError(f"set_weights: {len(weights)} more weights than the model has")

    def save_weights(self, filepath, overwrite=True):
        """save_weights(filepath): write every weight and buffer to one file, atomically (tapegrad.save)."""
        save(self.state_dict(), filepath)

    def load_weights(self, filepath, **kwargs):
        """load_weights(filepath): load weights saved by ``save_weights`` (architectures must match)."""
        self.load_state_dict(load(filepath))

    def count_params(self):
        return sum(p.numel() for p in self.parameters())

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
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        out += [line, f" Total params: {total:,}", f" Trainable params: {trainable:,}",
                f" Non-trainable params: {total - trainable:,}"]
        text = "\n".join(out)
        print_fn(text)
        return None
