"""Process-wide flags that PyTorch keeps in its global context (read and written by backends and tapegrad)."""

matmul_precision = "highest"  # torch.get_float32_matmul_precision(); "highest" is allow_tf32 = False
deterministic = False  # torch.use_deterministic_algorithms(mode)
deterministic_warn_only = False
