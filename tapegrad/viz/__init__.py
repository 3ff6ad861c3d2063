"""Pictures: the computation graph (Graphviz DOT, SVG/PNG) and training plots (matplotlib, headless); and the
instruments that show what the tape holds: a backward trace, a float32-vs-float64 precision report, a memory
ledger."""

from ._tape import Summary
from .graph import Graph, draw_graph
from .memory import LedgerRow, MemoryLedger, memory_ledger
from .plots import plot_decision_boundary, plot_history
from .precision import PrecisionReport, PrecisionRow, precision_report, relative_error
from .trace import BackwardTrace, LayerGrads, Step, plot_layer_grads

__all__ = ["Graph", "draw_graph", "plot_decision_boundary", "plot_history", "BackwardTrace", "Step", "LayerGrads",
           "plot_layer_grads", "Summary", "precision_report", "PrecisionReport", "PrecisionRow", "relative_error",
           "memory_ledger", "MemoryLedger", "LedgerRow"]
