"""tapegrad._cpu: the CPU flags that decide PyTorch's kernel choices, read once from /proc/cpuinfo."""

import pytest

from tapegrad import _cpu

INTEL = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_bf16 avx512_fp16 amx_tile amx_bf16
processor\t: 1
vendor_id\t: GenuineIntel
flags\t\t: fpu
"""
AMD = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
flags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_bf16 avx512_vnni
"""


def test_parse_reads_the_first_processors_vendor_and_flags():
    vendor, flags = _cpu._parse(INTEL.splitlines(keepends=True))
    assert vendor == "GenuineIntel" and "avx512_fp16" in flags and "amx_tile" in flags and "fpu" in flags
    assert _cpu._parse([]) == ("", frozenset())


@pytest.mark.parametrize("text,float16,reference", [
    (INTEL, True, True),
    (AMD, False, False),  # AVX-512 but no AVX-512 FP16: oneDNN leaves float16 to the native kernels
    (AMD.replace("avx512_vnni", "avx512_vnni avx512_fp16"), True, False),  # MKL dispatches by vendor too
    ("vendor_id: GenuineIntel\nflags: avx2 avx_vnni avx_ne_convert\n", True, False),  # oneDNN's avx2_vnni_2
    ("", False, False),  # no /proc/cpuinfo (macOS, Windows): the documented default
])
def test_the_kernel_choices_follow_the_flags(monkeypatch, text, float16, reference):
    monkeypatch.setattr(_cpu, "_read_cpuinfo", lambda: _cpu._parse(text.splitlines()))
    assert _cpu.onednn_takes_float16() is float16
    assert _cpu.reference_kernels() is reference


def test_the_flags_are_read_once_and_are_a_frozenset():
    assert _cpu._read_cpuinfo() is _cpu._read_cpuinfo()
    assert isinstance(_cpu.flags(), frozenset) and isinstance(_cpu.vendor(), str)
