"""The CPU tapegrad runs on, as far as PyTorch's CPU backends choose their kernels by it (a leaf: imports nothing).

PyTorch 2.13 hands some work to oneDNN or MKL, which dispatch by the CPU. Two consequences for tapegrad:

- A few of PyTorch's *choices* are documented functions of the CPU's flags, and tapegrad follows them here:
  oneDNN takes float16 only where ``mkldnn_fp16_device_check`` (aten/src/ATen/native/mkldnn/Utils.h, ideep's
  ``has_fp16_type_support``) says the CPU has AVX-512 FP16 or AVX-NE-CONVERT (``onednn_takes_float16``).
- The *arithmetic* inside MKL's and oneDNN's kernels (summation order, fused multiply-adds, so the last bit and the
  sign of a zero) also differs by CPU. tapegrad's bit-level emulations follow one machine, the reference: an Intel
  CPU with AVX-512 FP16 (``reference_kernels``). Elsewhere (an AMD EPYC, say) PyTorch's own last bits differ.

The flags are read once, from /proc/cpuinfo (Linux). Where it cannot be read (macOS, Windows) the set is empty: no
oneDNN float16 (as on any CPU without those flags) and not the reference machine.

>>> from tapegrad import _cpu
>>> isinstance(_cpu.flags(), frozenset)
True
"""

import functools

# oneDNN's float16 ISAs as Linux names them: avx512_core_fp16, or avx2_vnni_2 (whose marker is AVX-NE-CONVERT)
_ONEDNN_FLOAT16 = ("avx512_fp16", "avx_ne_convert")


def _parse(lines):
    """(vendor, flags) of the first processor in /proc/cpuinfo's ``lines``."""
    vendor = ""
    for line in lines:
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "vendor_id" and not vendor:
            vendor = value.strip()
        elif key == "flags":
            return vendor, frozenset(value.split())
    return vendor, frozenset()


@functools.cache
def _read_cpuinfo():
    """(vendor, flags) of this machine, or ("", frozenset()) where /proc/cpuinfo cannot be read."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            return _parse(f)
    except OSError:
        return "", frozenset()


def vendor():
    """The CPU's vendor id ("GenuineIntel", "AuthenticAMD"), or "" where it cannot be read."""
    return _read_cpuinfo()[0]


def flags():
    """The CPU's feature flags as /proc/cpuinfo names them (``avx512f``, ``avx512_fp16``, ...); empty if unknown."""
    return _read_cpuinfo()[1]


def onednn_takes_float16():
    """Whether PyTorch's oneDNN paths take float16 on this CPU (``mkldnn_fp16_device_check``)."""
    return any(f in flags() for f in _ONEDNN_FLOAT16)


def reference_kernels():
    """Whether MKL and oneDNN run here the kernels tapegrad's bit-level emulations were measured against: an Intel
    CPU with AVX-512 FP16 (MKL dispatches by vendor and ISA; on another CPU PyTorch's signs of zero and last bits
    may differ from tapegrad's, which stay the reference machine's)."""
    return vendor() == "GenuineIntel" and "avx512_fp16" in flags()
