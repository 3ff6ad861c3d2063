"""Pictures: the computation graph (Graphviz DOT, SVG/PNG) and training plots (matplotlib, headless)."""

from .graph import Graph, draw_graph
from .plots import plot_decision_boundary, plot_history

__all__ = ["Graph", "draw_graph", "plot_decision_boundary", "plot_history"]
