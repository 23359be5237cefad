"""The Xylo chips a network can be built for, and what each SNN core can hold.

Every limit carries its source. All three cores run the same integer dynamics (Rockpool's
``syns61201.XyloSim`` and ``syns63300.XyloSim`` — the latter also simulating Xylo Audio 3 —
build the same ``xylosim.v2.XyloLayer`` from the same arguments), so one simulator serves them
all; what differs is the size of the core, the number of synaptic states, the input and output
expansion windows, and the record (``Isyn2`` exists only on Xylo Audio 2).
"""

from __future__ import annotations

from dataclasses import dataclass

ROCKPOOL_DEVICES = "rockpool/devices/xylo"


@dataclass(frozen=True)
class Target:
    """One Xylo SNN core.

    name:              the ``target=`` string
    chip:              product name and part number
    max_inputs:        input channels into the SNN core
    max_hidden:        hidden neurons
    max_outputs:       output neurons the core holds
    warn_outputs:      above this many outputs Rockpool's mapper warns (None: it does not)
    max_synapses:      synaptic states per hidden neuron
    input_window:      inputs reach only the first this many hidden neurons (None: all)
    output_window:     the readout is fed only by the last this many hidden neurons (None: all)
    max_fanout:        non-zero recurrent weights leaving one hidden neuron (None: no limit
                       documented)
    max_recurrent:     non-zero recurrent weights in total (None: no limit documented)
    record_keys:       keys of the simulator's record
    sources:           for each limit, where it comes from
    """

    name: str
    chip: str
    max_inputs: int
    max_hidden: int
    max_outputs: int
    warn_outputs: int | None
    max_synapses: int
    input_window: int | None
    output_window: int | None
    max_fanout: int | None
    max_recurrent: int | None
    record_keys: tuple[str, ...]
    sources: dict[str, str]


_AUDIO2_MAPPER = f"{ROCKPOOL_DEVICES}/syns61201/xylo_mapper.py"
_AUDIO3_MAPPER = f"{ROCKPOOL_DEVICES}/syns65302/xylo_mapper.py"
_IMU_MAPPER = f"{ROCKPOOL_DEVICES}/syns63300/xylo_mapper.py"
_IMU_DOCS = "Rockpool's Xylo IMU introduction notebook (devices/xylo-imu/xylo-imu-intro.ipynb)"

TARGETS: dict[str, Target] = {
    "xylo-audio2": Target(
        name="xylo-audio2", chip="Xylo Audio 2 (SYNS61201)", max_inputs=16, max_hidden=1000,
        max_outputs=8, warn_outputs=None, max_synapses=2, input_window=None,
        output_window=None, max_fanout=None, max_recurrent=None,
        record_keys=("Vmem", "Isyn", "Isyn2", "Spikes", "Vmem_out", "Isyn_out"),
        sources={
            "max_inputs": f"{_AUDIO2_MAPPER} le_16_input_channels",
            "max_hidden": f"{_AUDIO2_MAPPER} mapper(max_hidden_neurons=1000)",
            "max_outputs": f"{_AUDIO2_MAPPER} mapper(max_output_neurons=8), le_8_output_channels",
            "max_synapses": f"{ROCKPOOL_DEVICES}/syns61201/xylo_sim.py: weights (.., 2)",
        },
    ),
    "xylo-audio3": Target(
        name="xylo-audio3", chip="Xylo Audio 3 (SYNS65302)", max_inputs=16, max_hidden=992,
        max_outputs=32, warn_outputs=16, max_synapses=2, input_window=128,
        output_window=128, max_fanout=None, max_recurrent=None,
        record_keys=("Vmem", "Isyn", "Spikes", "Vmem_out", "Isyn_out"),
        sources={
            "max_inputs": f"{_AUDIO3_MAPPER} le_16_input_channels (from syns61201)",
            "max_hidden": f"{_AUDIO3_MAPPER} mapper(max_hidden_neurons=992)",
            "max_outputs": f"{_AUDIO3_MAPPER} mapper(max_output_neurons=32)",
            "warn_outputs": f"{_AUDIO3_MAPPER} le_16_output_channels (a warning)",
            "max_synapses": f"{_AUDIO3_MAPPER}: num_hidden_synapses 1 or 2",
            "input_window": f"{_AUDIO3_MAPPER} le_128_input_expansion_neurons (named, an "
                            f"empty stub in Rockpool 3.1)",
            "output_window": f"{_AUDIO3_MAPPER} le_128_output_expansion_neurons (named, an "
                             f"empty stub in Rockpool 3.1)",
        },
    ),
    "xylo-imu": Target(
        name="xylo-imu", chip="Xylo IMU (SYNS63300)", max_inputs=16, max_hidden=496,
        max_outputs=16, warn_outputs=None, max_synapses=1, input_window=128,
        output_window=128, max_fanout=512, max_recurrent=31744,
        record_keys=("Vmem", "Isyn", "Spikes", "Vmem_out", "Isyn_out"),
        sources={
            "max_inputs": f"{_IMU_DOCS}: 16 spiking input channels",
            "max_hidden": f"{_IMU_DOCS}: 496 hidden neurons; {_IMU_MAPPER} "
                          f"mapper(max_hidden_neurons=496)",
            "max_outputs": f"{_IMU_DOCS}: 16 spiking output channels; {_IMU_MAPPER} "
                           f"le_16_output_channels",
            "max_synapses": f"{_IMU_DOCS}: one synaptic state per neuron; {_IMU_MAPPER} "
                            f"max_synapses_per_neuron",
            "input_window": f"{_IMU_DOCS}: input weights to up to the first 128 hidden neurons",
            "output_window": f"{_IMU_DOCS}: output weights from up to 128 hidden neurons",
            "max_fanout": f"{_IMU_DOCS}: up to 512 fanout recurrent weights per hidden neuron",
            "max_recurrent": f"{_IMU_DOCS}: up to 31,744 recurrent weights total",
        },
    ),
}
"""Every target ``target=`` accepts, by name."""

DEFAULT_TARGET = "xylo-audio2"

AUDIO_FAMILY = ("xylo-audio2", "xylo-audio3")
"""The chips with an audio front-end, smallest first (8 outputs, then 32): where a keyword
spotter without ``--target`` goes (:func:`synnet_triton.xylo.design.smallest_target`)."""


def get_target(target: str | Target) -> Target:
    """The :class:`Target` named ``target`` (a Target passes through).

    Raises:
        ValueError: an unknown name, listing the known ones.
    """
    if isinstance(target, Target):
        return target
    if target not in TARGETS:
        raise ValueError(f"target must be one of {sorted(TARGETS)}, got {target!r}")
    return TARGETS[target]
