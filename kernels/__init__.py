"""Triton device code for synnet_triton; raw tensors in, raw tensors out."""

import os

if os.environ.get("TRITON_INTERPRET") == "1":
    from .interpreter_compat import install as _install_interpreter_fix

    _install_interpreter_fix()
