"""A Keras-style progress bar: ``188/188 ━━━━━━━━━━━━━━━━━━━━ 2s 8ms/step - accuracy: 0.95 - loss: 0.16``."""

import sys
import time


def _fmt_time(seconds):
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(round(seconds))}s"


def _fmt_step(seconds):
    return f"{seconds * 1e3:.0f}ms/step" if seconds >= 1e-3 else f"{seconds * 1e6:.0f}us/step"


def _fmt_logs(logs):
    return "".join(f" - {k}: {v:.4f}" if isinstance(v, float) else f" - {k}: {v}" for k, v in logs.items())


class Progbar:
    """Progbar(total, verbose=1): one epoch's bar, redrawn in place on a terminal (about 20 times a second)."""

    def __init__(self, total, verbose=1, width=20, stream=None, start=None):
        self.total, self.verbose, self.width = total, verbose, width
        self.stream = stream or sys.stdout
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter() if start is None else start
        self.last_draw = None
        self.last_step = 0

    def update(self, step, logs, final=False):
        """update(step, logs, final=False): ``step`` steps of ``total`` are done; ``final`` ends the line."""
        self.last_step = step
        if self.verbose == 0:
            return
        now = time.perf_counter()
        elapsed = now - self.start
        per_step = elapsed / max(step, 1)
        if self.verbose == 2:
            if final:
                self.stream.write(f"{step}/{self.total} - {_fmt_time(elapsed)} - {_fmt_step(per_step)}"
                                  f"{_fmt_logs(logs)}\n")
            return
        if not final and (not self.interactive or (self.last_draw is not None and now - self.last_draw < 0.05)):
            return
        self.last_draw = now
        filled = int(self.width * step / max(self.total, 1))
        rest = self.width - filled
        bar = "━" * filled + (("\x1b[2m" + "━" * rest + "\x1b[0m" if rest else "") if self.interactive else " " * rest)
        # As Keras: the time left while running, the time taken at the end, then the time per step.
        shown = elapsed if final else per_step * (self.total - step)
        timing = f"{_fmt_time(shown)} {_fmt_step(per_step)}"
        line = f"{step}/{self.total} {bar} {timing}{_fmt_logs(logs)}"
        if self.interactive:
            self.stream.write("\r" + line + "\x1b[K" + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
