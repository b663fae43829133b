"""CPU bf16 detection from /proc/cpuinfo flags: the one detector behind both precision 'auto's."""

from __future__ import annotations

import pytest

from tfgridnet.hardware import bf16_emulation_note, cpu_has_bf16


@pytest.mark.parametrize("extra,expected", [("", False), ("amx_tile amx_bf16", True),
                                            ("avx512_bf16", True), ("avx512_bf16x", False),
                                            ("avx512f", False)])
def test_bf16_is_detected_from_the_cpu_flags(fake_cpuinfo, extra, expected):
    assert cpu_has_bf16(fake_cpuinfo(extra)) is expected


def test_unreadable_cpuinfo_means_no_bf16(tmp_path):
    assert cpu_has_bf16(tmp_path / "missing") is False


def test_the_emulation_note_is_given_only_without_bf16(fake_cpuinfo):
    assert bf16_emulation_note(fake_cpuinfo("avx512_bf16")) is None
    assert "emulated" in bf16_emulation_note(fake_cpuinfo("avx2"))
