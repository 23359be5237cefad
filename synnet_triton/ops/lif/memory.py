"""Count the bytes an autograd graph keeps alive for its backward pass.

Every tensor that an operation saves for backward (``ctx.save_for_backward`` in a custom
``autograd.Function`` as well as the tensors built-in ops save) passes through the pack hook
of :func:`torch.autograd.graph.saved_tensors_hooks`. Counting there is device independent and
needs no allocator statistics, so the same measurement applies to our op and to every peer.

Two refinements make the figure mean "memory this op costs":

* each distinct storage is counted once, at its full size: several views of one buffer, or
  the same tensor saved by several steps of a Python loop, cost one allocation;
* a storage that belongs to a tensor the caller already holds (the op's input, its
  parameters) costs nothing beyond what the caller pays anyway, so it is reported separately
  as a *reference* rather than as a *new* allocation. Our LIF op, for example, keeps a
  reference to its input ``x`` when τ_syn trains;
* only what the finished graph still holds counts: a Python step loop often builds graph
  pieces that it then detaches (a reset computed from ``spike.detach()``), and their saved
  tensors are freed before the forward returns.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor


@dataclass(frozen=True)
class SavedBytes:
    """Bytes held for backward by one forward call.

    new_bytes:        storages allocated during the call and kept for the backward
    referenced_bytes: storages of tensors the caller passed in (inputs, parameters)
    n_storages:       number of distinct storages counted (both kinds)
    """

    new_bytes: int
    referenced_bytes: int
    n_storages: int

    def new_bytes_per(self, n_units: int) -> float:
        """New bytes divided by a unit count (neuron-steps, say); 0 when there are none."""
        return self.new_bytes / n_units if n_units else 0.0


def _storage_key(tensor: Tensor) -> tuple[str, int]:
    """Identify a storage by device and base address (valid while the storage is alive)."""
    return (str(tensor.device), tensor.untyped_storage().data_ptr())


class _SavedSlot:
    """What the pack hook hands to autograd: it lives exactly as long as the graph node that
    saved the tensor, so a weak reference to it tells whether the graph still holds it."""

    __slots__ = ("tensor", "__weakref__")

    def __init__(self, tensor: Tensor) -> None:
        self.tensor = tensor


def count_saved_bytes(
    forward: Callable[[], Any], external_tensors: Iterable[Tensor] = ()
) -> tuple[Any, SavedBytes]:
    """Run ``forward()`` and count what its autograd graph holds for backward when it returns.

    ``external_tensors`` are the tensors the caller holds anyway (inputs, parameters); saved
    storages that coincide with theirs are counted as references. Returns ``forward``'s result
    (keep it alive to keep the graph alive) and the :class:`SavedBytes`.

    Storages are told apart by address, which is sound because every counted tensor is still
    alive (held by the graph) at the moment of counting.
    """
    external_keys = {_storage_key(t) for t in external_tensors}
    slots: list[weakref.ref[_SavedSlot]] = []

    def pack(tensor: Tensor) -> _SavedSlot:
        slot = _SavedSlot(tensor)
        slots.append(weakref.ref(slot))
        return slot

    def unpack(slot: _SavedSlot) -> Tensor:
        return slot.tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
        result = forward()

    storage_bytes: dict[tuple[str, int], int] = {}
    for reference in slots:
        slot = reference()
        if slot is not None:
            storage_bytes[_storage_key(slot.tensor)] = slot.tensor.untyped_storage().nbytes()
    new_bytes = sum(n for key, n in storage_bytes.items() if key not in external_keys)
    referenced_bytes = sum(n for key, n in storage_bytes.items() if key in external_keys)
    return result, SavedBytes(new_bytes, referenced_bytes, len(storage_bytes))
