"""Triton device code for synnet_triton and its launchers; raw tensors in, raw tensors out.

- ``lif_forward``, ``lif_backward``: the LIF op, one launch each for the whole sequence;
- ``reverse_scan``: a linear recurrence backwards in time (the scan op's CUDA path);
- ``xylo_layer``: Xylo's integer dynamics of one layer for the whole sequence;
- ``launch``: launch plans (metadata checks, compile options) shared by the launchers;
- ``interpreter_compat``: what the Triton interpreter (``TRITON_INTERPRET=1``) needs.

Imports nothing of synnet_triton.
"""

import os

if os.environ.get("TRITON_INTERPRET") == "1":
    from .interpreter_compat import install as _install_interpreter_fix

    _install_interpreter_fix()
