"""The Xylo family's integer arithmetic, in numbers: the one home of the chips' constants
(docs/design.md §6). Sizes that differ between chips are in :mod:`synnet_triton.xylo.targets`.

The Triton layer kernel (``synnet_triton.kernels.xylo_layer``) compiles the same numbers in as
literals, since the kernels import nothing of the package; ``tests/xylo/test_xylo_layers.py``
holds its integers bitwise to Rockpool's ``XyloSim`` on the rails and at the caps.
"""

INT8_RANGE = (-128, 127)
"""Weights are int8."""

INT16_MIN = -32768
INT16_MAX = 32767
INT16_RANGE = (INT16_MIN, INT16_MAX)
"""Synaptic currents, membranes, thresholds and biases saturate to int16."""

SHIFT_RANGE = (0, 15)
"""Decays (dashes) and weight shifts are 4-bit left or right shifts."""

MAX_INPUT_EVENTS = 15
"""Input events per channel and step; more are clipped."""

MAX_HIDDEN_SPIKES = 31
"""Spikes a hidden neuron emits in one step at most."""

MAX_OUTPUT_SPIKES = 1
"""Spikes a readout neuron emits in one step at most."""
