"""The op's argument checks read the device back to the host once per call (#30 item 2): the
parameter value checks are gathered and read as one vector, not two or three reads per
parameter (seven for ``lif`` before); while a CUDA graph is captured they read nothing and
assert on the device. Host reads are counted by wrapping the Tensor methods that read a
value (``__bool__``, ``item``, ``tolist``, ``__int__``, ``__float__``) and attributing each
to the module of its caller: only the checks' modules are counted (the torch backend's own
loop reads the host by design; the Triton backend's launch plans read no values)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch

from synnet_triton.ops.lif import validation
from synnet_triton.ops.lif.functional import lif, lif_decays

CHECKING_MODULES = ("synnet_triton/ops/lif/validation.py", "synnet_triton/ops/lif/functional.py")
READS = ("__bool__", "item", "tolist", "__int__", "__float__")


@contextmanager
def counted_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    reads: list[str] = []
    for name in READS:
        original = getattr(torch.Tensor, name)

        def wrapped(self, *args, __original=original, __name=name):  # type: ignore[no-untyped-def]
            caller = sys._getframe(1).f_code.co_filename.replace("\\", "/")
            if caller.endswith(CHECKING_MODULES):
                reads.append(f"{__name} in {caller.rsplit('/', 1)[-1]}")
            return __original(self, *args)

        monkeypatch.setattr(torch.Tensor, name, wrapped)
    yield reads
    monkeypatch.undo()


def _arguments(n: int = 5, s: int = 2) -> dict:
    g = torch.Generator().manual_seed(0)
    return dict(tau_mem=0.01 + 0.02 * torch.rand(n, generator=g),
                tau_syn=0.002 + 0.01 * torch.rand(n, s, generator=g),
                threshold=0.5 + torch.rand(n, generator=g),
                bias=0.01 * torch.randn(n, generator=g), n_synapses=s, backend="torch")


def test_lif_checks_every_parameter_with_one_host_read(monkeypatch) -> None:
    x = torch.rand(2, 30, 10)
    with counted_reads(monkeypatch) as reads:
        lif(x, **_arguments())
    assert reads == ["tolist in validation.py"]


def test_lif_decays_too(monkeypatch) -> None:
    x = torch.rand(2, 30, 10)
    arguments = _arguments()
    alpha = torch.exp(-1e-3 / arguments.pop("tau_mem"))
    beta = torch.exp(-1e-3 / arguments.pop("tau_syn"))
    with counted_reads(monkeypatch) as reads:
        lif_decays(x, alpha, beta, **arguments)
    assert reads == ["tolist in validation.py"]


def test_while_a_graph_is_captured_the_checks_assert_on_the_device(monkeypatch) -> None:
    asserted: list[bool] = []
    monkeypatch.setattr(validation, "_capturing", lambda device: True)
    monkeypatch.setattr(torch, "_assert_async",
                        lambda condition, message="": asserted.append(condition.clone()))
    x = torch.rand(2, 30, 10)
    good = _arguments()
    with counted_reads(monkeypatch) as reads:
        lif(x, **good)
        lif(x, **{**good, "threshold": -good["threshold"]})
    assert reads == []
    monkeypatch.undo()
    assert [bool(a) for a in asserted] == [True, False]


@pytest.mark.parametrize("name, value, words", [
    ("tau_mem", float("nan"), "tau_mem must be finite"),
    ("tau_syn", -0.5, "tau_syn must be > 0 everywhere, got min -0.5"),
    ("threshold", 0.0, "threshold must be > 0 everywhere"),
    ("bias", float("inf"), "bias must be finite"),
])
def test_the_one_read_still_names_the_parameter(name: str, value: float, words: str) -> None:
    arguments = _arguments()
    arguments[name] = torch.full_like(arguments[name], value)
    with pytest.raises(ValueError, match=words):
        lif(torch.rand(2, 30, 10), **arguments)


def test_out_of_range_decays_are_named() -> None:
    arguments = _arguments()
    del arguments["tau_mem"], arguments["tau_syn"]
    with pytest.raises(ValueError, match=r"beta is a decay factor .* \[0.5, 1.5\]"):
        lif_decays(torch.rand(2, 30, 10), 0.9, torch.tensor([0.5, 1.5]).expand(5, 2),
                   **arguments)
