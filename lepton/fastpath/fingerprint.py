"""What identifies this host for its calibration: CPU, vector features, cores and software."""

from __future__ import annotations

import hashlib
import json
import os
import platform
from importlib import metadata
from pathlib import Path

from lepton.host import cpu_flags, cpu_model

# CPU features that decide which kernels TensorFlow and oneDNN can use; the rest of
# /proc/cpuinfo's flags (virtualisation, security mitigations…) do not change training speed.
FLAG_PREFIXES = ("avx512", "amx")
FLAGS = {"avx", "avx2", "fma", "f16c", "avx_vnni", "avx_vnni_int8", "avx_ne_convert",
         "sse4_2", "asimd", "asimddp", "asimdhp", "sve", "sve2", "bf16", "i8mm", "sme"}


def usable_cores() -> int:
    """Cores this process may run on (a container's CPU set, not the whole machine)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_features() -> set[str]:
    flags = cpu_flags()
    cpuinfo = Path("/proc/cpuinfo")
    if not flags and cpuinfo.exists():  # ARM names them "Features"
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("Features"):
                return set(line.split(":", 1)[1].split())
    return flags


def host_fingerprint() -> dict:
    """What decides which settings are fastest here: CPU, its vector features, cores, software."""
    features = _cpu_features()
    return {
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "flags": sorted(flag for flag in features
                        if flag in FLAGS or flag.startswith(FLAG_PREFIXES)),
        "logical_cores": os.cpu_count() or 1,
        "usable_cores": usable_cores(),
        "tensorflow": _package_version("tensorflow"),
        "keras": _package_version("keras"),
    }


def fingerprint_key(fingerprint: dict) -> str:
    """A short key that is the same for equal fingerprints, whatever their key order."""
    text = json.dumps(fingerprint, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
