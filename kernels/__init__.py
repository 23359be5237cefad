"""Triton device code for synnet_triton; raw tensors in, raw tensors out."""

from .compile_report import compile_report, format_compile_report

__all__ = ["compile_report", "format_compile_report"]
