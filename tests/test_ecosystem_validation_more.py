"""Bad input to SynNet, LIF, lif_decays, LIFTriton and the front-end: errors that name the
argument (cases found by the ecosystem review)."""

from __future__ import annotations

import warnings

import pytest
import torch

from synnet_triton import LIF, lif_decays
from synnet_triton.audio import audio_to_events
from synnet_triton.data import KeywordSetConfig
from synnet_triton.rockpool import LIFTriton
from synnet_triton.synnet import SynNet

X = torch.zeros(2, 5, 6)


def _net(**kwargs):
    arguments = dict(n_classes=2, n_channels=3, size_hidden_layers=[4],
                     time_constants_per_layer=[2])
    return SynNet(**{**arguments, **kwargs})


CASES = [
    ("lif_decays alpha > 1", lambda: lif_decays(X, 1.5, 0.5), ValueError, "alpha"),
    ("lif_decays alpha < 0", lambda: lif_decays(X, -0.5, 0.5), ValueError, "alpha"),
    ("lif_decays beta > 1", lambda: lif_decays(X, 0.5, 1.5), ValueError, "beta"),
    ("LIF x width", lambda: LIF(3)(torch.zeros(1, 4, 4)), ValueError, r"\bx\b"),
    ("LIF surrogate", lambda: LIF(3, surrogate="sigmoid"), ValueError, "surrogate"),
    ("SynNet dt zero", lambda: _net(dt=0.0), ValueError, r"\bdt\b"),
    ("SynNet x int64", lambda: _net()(torch.zeros(1, 4, 3, dtype=torch.int64)), TypeError,
     r"\bx\b"),
    ("SynNet x float64", lambda: _net()(torch.zeros(1, 4, 3, dtype=torch.float64)), TypeError,
     r"\bx\b"),
    ("SynNet tau_syn_out", lambda: _net(tau_syn_out=0.0, quantize_time_constants=False),
     ValueError, "tau_syn_out"),
    ("SynNet max_spikes_per_dt_out", lambda: _net(max_spikes_per_dt_out=0), ValueError,
     "max_spikes_per_dt_out"),
    ("SynNet threshold_out", lambda: _net(threshold_out=-1.0), ValueError, "threshold_out"),
    ("LIFTriton tau_mem", lambda: LIFTriton(3, tau_mem=-0.01)(torch.zeros(1, 4, 3)),
     ValueError, "tau_mem"),
    ("audio nan", lambda: audio_to_events(torch.full((1000,), float("nan"))), ValueError,
     "audio"),
    ("audio config", lambda: audio_to_events(torch.zeros(1000), config="x"), TypeError,
     "config"),
    ("KeywordSetConfig sample_rate", lambda: KeywordSetConfig(sample_rate=0), ValueError,
     "sample_rate"),
]


@pytest.mark.parametrize("call, error, argument", [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_bad_input_raises_an_error_naming_the_argument(call, error, argument):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error, match=argument):
            call()
