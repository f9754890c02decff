"""What `precision: auto` means on this machine: bf16 autocast where the hardware multiplies bf16 natively."""

from __future__ import annotations

from pathlib import Path

import torch

# CPU flags of native bf16 matmuls (AVX-512-BF16, Intel AMX); without them bf16 is emulated and slower
BF16_CPU_FLAGS = {"avx512_bf16", "amx_bf16"}


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU's feature flags (Linux; empty elsewhere, which means fp32)."""
    if not cpuinfo.is_file():
        return set()
    return {flag for line in cpuinfo.read_text().splitlines() if line.startswith("flags") for flag in line.split(":", 1)[1].split()}


def auto_precision(device: str | None) -> str:
    """bf16 on a CUDA GPU that supports it (fp16 with Accelerate's loss scaling on older GPUs), or on a CPU
    with native bf16; otherwise "no" (fp32)."""
    if device != "cpu" and torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if BF16_CPU_FLAGS & cpu_flags() else "no"


AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(device: torch.device, precision: str):
    """Autocast at a run's resolved precision ("no" = fp32); inference uses it outside Accelerate, so a
    fine-tune loaded from disk is evaluated in the precision it was trained in, as one trained in-process is."""
    return torch.autocast(device.type, dtype=AUTOCAST_DTYPES.get(precision), enabled=precision in AUTOCAST_DTYPES)
