"""Whether this CPU runs bfloat16 natively, and what bfloat16 weights cost where it does not.

With AVX512-BF16 or AMX a bfloat16 matmul is faster than a float32 one (bench/dtype_speed.py: 1.7-2.1x for
SmolLM2 on an AVX512-BF16 CPU). Without them PyTorch converts to float32 and back around every matmul, so
bfloat16 weights only save memory and run slower. Loading a bfloat16 model onto such a CPU warns once, with
the cost measured there and then on a matmul of the model's own width.
"""

from __future__ import annotations

import functools
import platform
import time
import warnings
from pathlib import Path

import torch

BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_bf16_flags() -> list[str]:
    """The CPU's bf16 feature flags (amx_bf16, amx_tile, avx512_bf16); empty where /proc/cpuinfo does not say."""
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        return []
    return sorted(f for f in flags.split() if f in ("amx_bf16", "amx_tile", "avx512_bf16"))


def bf16_slowdown(width: int = 1024, repeats: int = 3) -> float:
    """Seconds of a (width x width) bfloat16 matmul over a float32 one on this CPU (best of ``repeats``)."""
    def best(dtype: torch.dtype) -> float:
        a = torch.randn(width, width).to(dtype)
        b = torch.randn(width, width).to(dtype)
        a @ b  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - start)
        return min(times)

    return best(torch.bfloat16) / max(best(torch.float32), 1e-9)


@functools.cache
def warn_if_bf16_is_emulated(width: int = 1024) -> float | None:
    """Warn (once per process) when bfloat16 weights go onto a CPU with no bf16 instructions; returns the
    measured slowdown then, else None. On non-Linux systems, where the flags cannot be read, it says nothing."""
    if platform.system() != "Linux" or set(cpu_bf16_flags()) & set(BF16_FLAGS):
        return None
    ratio = bf16_slowdown(width)
    warnings.warn(f"this CPU has no bfloat16 instructions ({' or '.join(BF16_FLAGS)} missing from /proc/cpuinfo): "
                  f"bfloat16 matmuls are converted to float32 and back, measured {ratio:.1f}x the time of float32 "
                  f"here ({width}x{width}); bfloat16 weights only save memory on this machine, use --model-dtype "
                  "float32 for speed", RuntimeWarning, stacklevel=3)
    return ratio
