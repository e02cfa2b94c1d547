"""The platform a record was trained on: what, besides the code and the data, moves its numbers.

Measured on this project's 2-core AMD EPYC (AVX-512): the same DE-III fold, same seed, one
thread, scored test UAR 0.542 with PyTorch's AVX-512 kernels and 0.646 with
``ATEN_CPU_CAPABILITY=avx2`` (the first epoch's loss differs in the sixth digit; training
amplifies it). So the instruction set torch dispatches to, the device, and the torch and numpy
builds are part of a record's identity: two records of one job from two platforms are both
kept (:func:`platform_id` is in the file name), and a report says which platform each row used.
"""

from __future__ import annotations

import functools
import platform as _platform
import re
import sys

from bench.config import stable_hash

# CPU flags that select other kernels in torch, oneDNN or MKL.
_ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "asimd", "sve")


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(("model name", "Model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return _platform.processor() or _platform.machine()


@functools.lru_cache(maxsize=1)
def cpu_flags() -> tuple[str, ...]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(("flags", "Features")):
                    present = set(line.split(":", 1)[1].split())
                    return tuple(f for f in _ISA_FLAGS if f in present)
    except OSError:
        pass
    return ()


def platform_info(device: str = "cpu") -> dict:
    """The numeric platform of a job trained on ``device`` (``cpu``, ``cuda``, ``cuda:1``)."""
    import numpy
    import torch

    kind = str(device).split(":")[0]
    info = {
        "device": kind,
        "device_name": cpu_model(),
        "cpu_model": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_flags": list(cpu_flags()),
        "machine": _platform.machine(),
        "os": _platform.system(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "cuda": torch.version.cuda or "",
    }
    if kind == "cuda" and torch.cuda.is_available():
        index = torch.device(device).index or 0
        info["device_name"] = torch.cuda.get_device_name(index)
        info["cudnn"] = str(torch.backends.cudnn.version() or "")
    info["id"] = platform_id(info)
    return info


def platform_id(info: dict) -> str:
    """A short readable name plus a hash of everything numeric: ``cpu-amd-epyc-avx512-1a2b3c4d``."""
    numeric = {k: info.get(k) for k in ("device", "device_name", "cpu_capability", "cpu_flags", "machine", "torch",
                                         "numpy", "cuda", "cudnn")}
    name = re.sub(r"[^a-z0-9]+", "-", f"{info['device']} {info['device_name']} {info.get('cpu_capability', '')}".lower())
    return f"{name.strip('-')[:48]}-{stable_hash(numeric, length=8)}"
