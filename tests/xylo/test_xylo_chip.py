"""The chip's constants have one home (``xylo/chip.py``); the Triton layer kernel, which may
import nothing of the package, compiles in copies of them: they must be the same numbers.
The values themselves are xylosim's (docs/design.md §6), checked here by hand."""

from synnet_triton.kernels import xylo_layer

from synnet_triton.xylo import chip


def test_the_layer_kernels_copies_are_the_chips_constants() -> None:
    assert (xylo_layer.INT16_MIN, xylo_layer.INT16_MAX) == chip.INT16_RANGE
    assert xylo_layer.MAX_SPIKES == chip.MAX_HIDDEN_SPIKES


def test_the_constants_are_xylosims() -> None:
    assert chip.INT16_RANGE == (-(2**15), 2**15 - 1)
    assert chip.INT8_RANGE == (-(2**7), 2**7 - 1)
    assert chip.SHIFT_RANGE == (0, 2**4 - 1)
    assert (chip.MAX_INPUT_EVENTS, chip.MAX_HIDDEN_SPIKES, chip.MAX_OUTPUT_SPIKES) == (15, 31, 1)
