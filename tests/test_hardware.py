"""CPU bf16 detection from /proc/cpuinfo flags: the one detector behind both precision 'auto's."""

from __future__ import annotations

import pytest

from tfgridnet.hardware import cpu_has_bf16

FLAGS = "fpu vme sse sse2 avx avx2 avx512f avx512bw"


def _cpuinfo(tmp_path, flags: str):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\n"
                    f"processor\t: 1\nflags\t\t: {flags}\n")
    return path


@pytest.mark.parametrize("extra,expected", [("", False), ("amx_tile amx_bf16", True),
                                            ("avx512_bf16", True), ("avx512_bf16x", False),
                                            ("avx512f", False)])
def test_bf16_is_detected_from_the_cpu_flags(tmp_path, extra, expected):
    assert cpu_has_bf16(_cpuinfo(tmp_path, f"{FLAGS} {extra}")) is expected


def test_unreadable_cpuinfo_means_no_bf16(tmp_path):
    assert cpu_has_bf16(tmp_path / "missing") is False
