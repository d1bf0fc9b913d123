"""Resolve ``device = "auto"`` per backend library: CUDA when that library can use it."""

from __future__ import annotations

from typing import Literal

Resolved = Literal["cpu", "cuda"]


def whisper_device(requested: str) -> Resolved:
    if requested != "auto":
        return "cuda" if requested == "cuda" else "cpu"
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


def llama_device(requested: str) -> Resolved:
    if requested != "auto":
        return "cuda" if requested == "cuda" else "cpu"
    import llama_cpp

    return "cuda" if llama_cpp.llama_supports_gpu_offload() else "cpu"


def onnx_device(requested: str) -> Resolved:
    if requested != "auto":
        return "cuda" if requested == "cuda" else "cpu"
    import onnxruntime

    return "cuda" if "CUDAExecutionProvider" in onnxruntime.get_available_providers() else "cpu"
