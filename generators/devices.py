"""Where a local model runs and whether it fits there.

Decided once at load so that a model that cannot run (no weights on disk, not enough
GPU memory) fails when the operator starts the worker, not at a voter's first battle.
"""

from __future__ import annotations

import json
import struct
import threading
from pathlib import Path

import torch

from generators.protocol import ConfigError

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
_SAFETENSORS_BYTES = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
}
# activations, CUDA context and allocator slack on top of the weights
_HEADROOM_BYTES = 512 * 1024**2
_HEADROOM_FACTOR = 1.2

# transformers and diffusers initialise weights under process-global contexts (meta
# device, default dtype), so two models loading in parallel threads corrupt each other
LOAD_LOCK = threading.Lock()


def choose_device(option: str) -> torch.device:
    """`auto` means the first GPU when there is one; an explicit cuda without one is a config error."""
    if option == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(option)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {option!r} was asked for but no CUDA GPU is available")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"device {option!r} does not exist ({torch.cuda.device_count()} GPU(s) found)")
    return device


def choose_dtype(option: str, device: torch.device) -> torch.dtype:
    """Half precision on GPU (bf16 where supported, else fp16), fp32 on CPU where half is slow."""
    if option != "auto":
        return _DTYPES[option]
    if device.type != "cuda":
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def resolve_model_dir(name: str, path: str, allow_download: bool) -> Path:
    """A local directory, or a hub id's snapshot in the local cache; never a silent download.

    Downloading happens only when the operator set `allow_download`, so a typo in a
    path cannot turn into a multi-gigabyte download on a production GPU host.
    """
    local = Path(path).expanduser()
    if local.is_dir():
        return local
    if path.startswith((".", "/", "~")) or local.suffix or path.count("/") > 1:
        raise ConfigError(f"model {name!r}: options.path: directory {path} does not exist")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(path, local_files_only=True))
    except Exception:
        if not allow_download:
            raise ConfigError(
                f"model {name!r}: options.path: {path!r} is neither a local directory nor in the "
                "Hugging Face cache; download it first or set allow_download: true"
            ) from None
    try:
        return Path(snapshot_download(path))
    except Exception as exc:
        raise ConfigError(f"model {name!r}: could not download {path!r} ({type(exc).__name__})") from None


def weights_bytes(model_dir: Path, dtype: torch.dtype) -> int:
    """Bytes the weights under `model_dir` take on the device in `dtype`.

    Reads safetensors headers (parameter counts) rather than loading anything; other
    weight files count at their size on disk.
    """
    target = torch.empty((), dtype=dtype).element_size()
    total = 0
    for file in model_dir.rglob("*"):
        if file.suffix == ".safetensors":
            total += _safetensors_bytes(file, target)
        elif file.suffix in (".bin", ".pt", ".pth", ".ckpt"):
            total += file.stat().st_size
    return total


def _safetensors_bytes(file: Path, target_size: int) -> int:
    with open(file, "rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(length))
    total = 0
    for key, info in header.items():
        if key == "__metadata__":
            continue
        count = 1
        for dim in info["shape"]:
            count *= dim
        stored = _SAFETENSORS_BYTES.get(info["dtype"], 4)
        # floating weights are cast to the target dtype; integer buffers keep their size
        total += count * (target_size if info["dtype"] in ("F64", "F32", "F16", "BF16") else stored)
    return total


def check_fits(
    name: str, model_dir: Path, dtype: torch.dtype, device: torch.device, free_bytes: int | None = None
) -> None:
    """Refuse a model whose weights cannot fit in the GPU's free memory, with the numbers."""
    if device.type != "cuda":
        return
    if free_bytes is None:
        free_bytes, _ = torch.cuda.mem_get_info(device)
    need = int(weights_bytes(model_dir, dtype) * _HEADROOM_FACTOR) + _HEADROOM_BYTES
    if need > free_bytes:
        raise ConfigError(
            f"model {name!r} does not fit on {device}: it needs about {need / 1024**3:.1f} GiB "
            f"({dtype}) but only {free_bytes / 1024**3:.1f} GiB is free; use a smaller dtype, "
            "another GPU, or fewer models per worker"
        )


def load_error(name: str, exc: BaseException) -> ConfigError:
    """A loading failure as a config error that says what to fix, without a traceback."""
    if isinstance(exc, torch.OutOfMemoryError):
        return ConfigError(f"model {name!r} ran out of GPU memory while loading")
    return ConfigError(f"model {name!r} could not be loaded: {type(exc).__name__}: {str(exc)[:300]}")


def prepare_local(entry) -> tuple[Path, torch.device, torch.dtype]:
    """Directory, device and dtype for a local entry, after checking the weights fit."""
    options = entry.options
    model_dir = resolve_model_dir(entry.name, options.path, options.allow_download)
    device = choose_device(options.device)
    dtype = choose_dtype(options.dtype, device)
    check_fits(entry.name, model_dir, dtype, device)
    return model_dir, device, dtype
