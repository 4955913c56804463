"""What this host is: CPU model, cores, memory, software versions."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path

import psutil


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo, or what `platform` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    """The CPU's feature flags: the "flags" line on x86, "Features" on ARM."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith(("flags", "Features")):
                return set(line.split(":", 1)[1].split())
    return set()


def bfloat16_fast() -> bool:
    """True when the CPU computes bfloat16 natively (AMX, AVX512-BF16 or ARM BF16)."""
    return bool({"amx_bf16", "avx512_bf16", "bf16"} & cpu_flags())


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def host_info() -> dict:
    return {
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count() or 1,
        "physical_cores": psutil.cpu_count(logical=False) or os.cpu_count() or 1,
        "memory_bytes": psutil.virtual_memory().total,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "tensorflow": _version("tensorflow"),
        "keras": _version("keras"),
        "bfloat16": bfloat16_fast(),
    }
