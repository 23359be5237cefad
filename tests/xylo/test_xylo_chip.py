"""The chip's constants (``xylo/chip.py``, their one home) are xylosim's register widths and
caps (docs/design.md §6), checked here by hand."""

from synnet_triton.xylo import chip


def test_the_constants_are_xylosims() -> None:
    assert chip.INT16_RANGE == (-(2**15), 2**15 - 1)
    assert chip.INT8_RANGE == (-(2**7), 2**7 - 1)
    assert chip.SHIFT_RANGE == (0, 2**4 - 1)
    assert (chip.MAX_INPUT_EVENTS, chip.MAX_HIDDEN_SPIKES, chip.MAX_OUTPUT_SPIKES) == (15, 31, 1)
