"""Differential testing of tapegrad against PyTorch: random small programs run in both libraries.

``core``: programs as data, running them side by side, comparing; ``ops``: the generator and its op table;
``driver``: a standalone command that runs many programs and collects every distinct discrepancy.
"""
