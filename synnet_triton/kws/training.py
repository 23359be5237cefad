"""Training and evaluation of a keyword-spotting SynNet, and its checkpoints.

The readout is a spike count: a clip's class is the readout neuron that spiked most over the
clip (ties go to the lowest index), and training minimises the cross-entropy of
``logit_scale * spike_count``. Counting spikes, rather than reading the readout membrane, keeps
the readout threshold at the hidden threshold's scale, so global weight quantisation for Xylo
does not crush the weights (a ``vmem`` readout sets the readout threshold to 2**15 - 1), and
the one-step delay Xylo adds on each hidden→readout link barely moves a count.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor
from tqdm import tqdm

from synnet_triton.hardware import HardwareSynNet
from synnet_triton.kws.data import EventSet
from synnet_triton.nn.linear import Linear
from synnet_triton.nn.synnet import SynNet
from synnet_triton.xylo.design import DesignReport, check_layout
from synnet_triton.xylo.targets import DEFAULT_TARGET

__all__ = [
    "NetworkConfig",
    "TrainConfig",
    "EpochRecord",
    "Evaluation",
    "build_network",
    "spike_count_logits",
    "train",
    "evaluate",
    "evaluate_xylo",
    "TrainingDiverged",
    "TrainingProgress",
    "global_rng_states",
    "restore_global_rng_states",
]

XYLO_INPUTS = 16


@dataclass(frozen=True)
class NetworkConfig:
    """Architecture of the keyword-spotting SynNet (a subset of ``SynNet``'s arguments).

    n_classes:          readout neurons, one per class.
    n_channels:         input channels (the front-end's bands).
    hidden:             neurons per hidden layer.
    time_constants:     distinct synaptic time constants per hidden layer (2, 4, 8, … ms).
    dt:                 time step in seconds.
    """

    n_classes: int = 4
    n_channels: int = XYLO_INPUTS
    hidden: tuple[int, ...] = (64,)
    time_constants: tuple[int, ...] = (4,)
    dt: float = 1e-3

    def __post_init__(self) -> None:
        if len(self.hidden) != len(self.time_constants):
            raise ValueError(
                f"hidden and time_constants must have the same length, got {self.hidden} "
                f"and {self.time_constants}"
            )

    def design_report(self, target: str = DEFAULT_TARGET) -> DesignReport:
        """Every rule of the Xylo chip ``target`` this architecture breaks
        (:func:`synnet_triton.xylo.check_layout`), before any weights exist."""
        return check_layout(self.n_channels, list(self.hidden), self.n_classes, target)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings.

    epochs:      passes over the training set (0: no training; hardware-exact training
                 from scratch is float epochs 0, then ``train(..., hardware=)``).
    batch_size:  clips per optimiser step.
    lr:          Adam learning rate.
    logit_scale: spike counts are multiplied by this before the softmax cross-entropy.
    seed:        seeds the weight initialisation and the batch order.
    init_gain:   factor on SynNet's initial weights (see :func:`build_network`). At 1.0 the
                 front-end's event rates drive Rockpool's Kaiming initialisation to hidden
                 activity near saturation and a silent readout; 0.4 starts sparse.
    schedule:    "cosine": the learning rate decays from ``lr`` to 0 over the epochs
                 (half a cosine, per step); "constant": it stays at ``lr``.
    """

    epochs: int = 6
    batch_size: int = 32
    lr: float = 1e-2
    logit_scale: float = 0.1
    seed: int = 0
    init_gain: float = 0.4
    schedule: str = "cosine"

    def __post_init__(self) -> None:
        for name in ("lr", "init_gain", "logit_scale"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be finite, got {getattr(self, name)}")
        if self.init_gain <= 0:
            raise ValueError(f"init_gain must be positive, got {self.init_gain}")
        if self.epochs < 0:
            raise ValueError(f"epochs must be at least 0, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.logit_scale <= 0:
            raise ValueError(f"logit_scale must be positive, got {self.logit_scale}")
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"schedule must be 'cosine' or 'constant', got {self.schedule!r}")


@dataclass(frozen=True)
class EpochRecord:
    """One epoch of training: mean loss, accuracy on the training batches, held-out accuracy,
    seconds since training started, and the learning rate after the epoch's last step."""

    epoch: int
    loss: float
    train_accuracy: float
    test_accuracy: float
    seconds: float
    lr: float = float("nan")


@dataclass(frozen=True)
class Evaluation:
    """Accuracy of a network on a labelled set.

    predictions: int64 (N,) predicted class per clip.
    counts:      float32 (N, n_classes) readout spike counts per clip.
    """

    accuracy: float
    predictions: Tensor = field(repr=False)
    counts: Tensor = field(repr=False)
    seconds: float
    clips_per_second: float


def build_network(
    config: NetworkConfig, backend: str = "auto", seed: int = 0, init_gain: float = 1.0
) -> SynNet:
    """A spike-output SynNet for ``config`` with weights drawn from torch seed ``seed``.

    SynNet draws Rockpool's initial weights (Kaiming-uniform, scaled by dt / tau_syn); every
    weight is then multiplied by ``init_gain``. The global torch generator is forked, so
    building a network leaves its state untouched.
    """
    if init_gain <= 0:
        raise ValueError(f"init_gain must be positive, got {init_gain}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = SynNet(
            n_classes=config.n_classes,
            n_channels=config.n_channels,
            size_hidden_layers=list(config.hidden),
            time_constants_per_layer=list(config.time_constants),
            dt=config.dt,
            output="spikes",
            backend=backend,
        )
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, Linear):
                module.weight.mul_(init_gain)
    return net


def spike_count_logits(output: Tensor, logit_scale: float) -> Tensor:
    """Logits (B, n_classes) from readout spikes (B, T, n_classes): scaled counts over time."""
    return output.sum(dim=1) * logit_scale


def _network_device(net: SynNet) -> torch.device:
    return next(net.parameters()).device


def _progress_batches(
    data: EventSet,
    batch_size: int,
    description: str,
    progress: bool,
    generator: torch.Generator | None = None,
) -> Iterator[tuple[Tensor, Tensor]]:
    """``data.batches`` behind a tqdm bar (hidden unless ``progress``)."""
    yield from tqdm(
        data.batches(batch_size, generator),
        total=-(-len(data) // batch_size),
        desc=description,
        disable=not progress,
        leave=False,
    )


def evaluate(
    net: SynNet, data: EventSet, batch_size: int = 64, progress: bool = False
) -> Evaluation:
    """Float accuracy of ``net`` on ``data`` by the spike-count readout."""
    device = _network_device(net)
    counts = []
    start = time.perf_counter()
    net.eval()
    with torch.no_grad():
        for events, _ in _progress_batches(data, batch_size, "eval float", progress):
            counts.append(net(events.to(device)).sum(dim=1).float().cpu())
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    return _evaluation(torch.cat(counts), data.labels, seconds)


def _evaluation(counts: Tensor, labels: Tensor, seconds: float) -> Evaluation:
    predictions = counts.argmax(dim=1)
    accuracy = (predictions == labels).double().mean().item()
    return Evaluation(accuracy, predictions, counts, seconds, len(labels) / max(seconds, 1e-9))


def evaluate_xylo(
    net: SynNet, data: EventSet, batch_size: int = 64, progress: bool = False,
    target: str = DEFAULT_TARGET, quantize: str = "global",
) -> Evaluation:
    """Accuracy of ``net`` converted to the Xylo chip ``target`` (``net.to_xylo(quantize,
    target)``) on the Xylo-parity simulation.

    The event counts go to the simulation as integers; the readout is the same spike count.

    Raises:
        DesignError: ``target`` cannot hold the network (every violation listed).
    """
    from synnet_triton.xylo import XyloSim

    device = _network_device(net)
    spec = net.to_xylo(quantize=quantize, target=target)  # checks the design, naming layers
    # Integer torch arithmetic: the simulation gives the same result on CPU and CUDA.
    sim = XyloSim.from_specification(**spec, target=target, verify_config=False).to(device)
    counts = []
    start = time.perf_counter()
    for events, _ in _progress_batches(data, batch_size, "eval xylo", progress):
        # The simulator carries state between calls, like the chip; each batch starts fresh.
        sim.reset_state()
        output, _, _ = sim(events.to(device=device, dtype=torch.int64))
        counts.append(torch.as_tensor(output).sum(dim=1).float().cpu())
    seconds = time.perf_counter() - start
    return _evaluation(torch.cat(counts), data.labels, seconds)


class TrainingDiverged(RuntimeError):
    """Training met a non-finite loss, gradient or parameter; ``net`` is not to be trusted
    past the last finished epoch (``epoch`` and ``batch`` count from 1)."""

    def __init__(self, epoch: int, batch: int, what: str, advice: str = "") -> None:
        super().__init__(f"training diverged at epoch {epoch}, batch {batch}: {what}"
                         + (f"; {advice}" if advice else ""))
        self.epoch, self.batch, self.what = epoch, batch, what


@dataclass
class TrainingProgress:
    """Where :func:`train` stands after a finished epoch: with the network's parameters of
    that moment, enough to continue bitwise as if never stopped.

    epochs:    epochs finished.
    history:   their records.
    optimiser, scheduler: the optimiser's and the schedule's ``state_dict``.
    order:     state of the generator that shuffles the batches.
    rng:       the global torch generators' states (CPU, then the network's CUDA device if
               any): time-step dropout draws from them.
    best:      (validation score, state_dict) of the best epoch so far, or None.
    seconds:   training time so far.
    """

    epochs: int
    history: list[EpochRecord]
    optimiser: dict[str, Any]
    scheduler: dict[str, Any]
    order: Tensor
    rng: list[Tensor]
    best: tuple[float, dict[str, Tensor]] | None
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """Plain containers of tensors and numbers (``torch.load(weights_only=True)`` reads
        them back)."""
        return {"epochs": self.epochs, "history": [asdict(r) for r in self.history],
                "optimiser": self.optimiser, "scheduler": self.scheduler, "order": self.order,
                "rng": self.rng, "best": None if self.best is None else list(self.best),
                "seconds": self.seconds}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> TrainingProgress:
        best = state["best"]
        return cls(epochs=int(state["epochs"]),
                   history=[EpochRecord(**record) for record in state["history"]],
                   optimiser=state["optimiser"], scheduler=state["scheduler"],
                   order=state["order"], rng=list(state["rng"]),
                   best=None if best is None else (float(best[0]), best[1]),
                   seconds=float(state["seconds"]))


def global_rng_states(device: torch.device) -> list[Tensor]:
    """The global torch generators' states: the CPU's, then ``device``'s if it is CUDA."""
    states = [torch.get_rng_state()]
    if device.type == "cuda":
        states.append(torch.cuda.get_rng_state(device))
    return states


def restore_global_rng_states(states: list[Tensor], device: torch.device) -> None:
    """Undo what happened to the generators since :func:`global_rng_states` gave ``states``."""
    torch.set_rng_state(states[0])
    if device.type == "cuda" and len(states) > 1:
        torch.cuda.set_rng_state(states[1], device)


def _all_finite(tensors: Sequence[Tensor]) -> bool:
    """One device-to-host read for the lot."""
    return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())


def train(
    net: SynNet,
    train_set: EventSet,
    test_set: EventSet,
    config: TrainConfig,
    progress: bool = True,
    log_epochs: bool = False,
    validation: EventSet | None = None,
    hardware: HardwareSynNet | None = None,
    resume: TrainingProgress | None = None,
    on_epoch: Callable[[TrainingProgress], None] | None = None,
) -> list[EpochRecord]:
    """Train ``net`` in place with Adam on the spike-count cross-entropy.

    Returns one :class:`EpochRecord` per epoch; held-out accuracy is measured after each epoch.
    With a ``validation`` set (clips apart from both others) its accuracy is measured too,
    and ``net`` ends with the parameters of the epoch that scored best on it (the last such
    epoch on a tie): the held-out set never chooses. ``progress`` shows a bar per epoch,
    ``log_epochs`` prints one line per epoch.

    Hardware-exact training: with ``hardware`` (``HardwareSynNet(net, quantize, target)``,
    sharing ``net``'s parameters) every forward is the chip's integer arithmetic on the
    quantised parameters and the gradients are its surrogate ones (float shadows, straight
    through); held-out and validation accuracies are then the chip's
    (:func:`evaluate_xylo` with the same quantisation and target), and after training
    ``evaluate_xylo`` gives exactly what the last epoch reported. It runs on ``net``'s
    device (on CUDA the chip simulation is one Triton launch per layer).

    Interruption: ``on_epoch`` receives a :class:`TrainingProgress` after every epoch; given
    back as ``resume`` (with ``net`` holding the parameters of that moment) training goes on
    from the next epoch and ends bitwise where an uninterrupted run ends.

    Raises:
        TrainingDiverged: a batch's loss, a gradient or a parameter after the step is NaN or
            infinite (naming the epoch and batch); ``net`` then holds the broken step.
    """
    if hardware is not None and hardware.synnet is not net:
        raise ValueError("hardware must wrap net itself (HardwareSynNet(net, ...))")
    model = net if hardware is None else hardware
    device = _network_device(net)
    parameters = list(net.parameters())

    def accuracy(data: EventSet) -> float:
        size = max(config.batch_size, 64)
        if hardware is None:
            return evaluate(net, data, batch_size=size).accuracy
        return evaluate_xylo(net, data, batch_size=size, target=hardware.target,
                             quantize=hardware.quantize).accuracy

    optimiser = torch.optim.Adam(parameters, lr=config.lr)
    steps = max(1, config.epochs * -(-len(train_set) // config.batch_size))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser,
        (lambda step: 0.5 * (1 + math.cos(math.pi * step / steps)))
        if config.schedule == "cosine" else (lambda step: 1.0),
    )
    best: tuple[float, dict[str, Tensor]] | None = None
    order = torch.Generator().manual_seed(config.seed)
    history: list[EpochRecord] = []
    earlier_seconds = 0.0
    if resume is not None:
        optimiser.load_state_dict(resume.optimiser)
        scheduler.load_state_dict(resume.scheduler)
        order.set_state(resume.order)
        restore_global_rng_states(resume.rng, device)
        history, best, earlier_seconds = list(resume.history), resume.best, resume.seconds
    start = time.perf_counter() - earlier_seconds
    for epoch in range(len(history), config.epochs):
        net.train()
        total_loss, correct = 0.0, 0
        description = f"epoch {epoch + 1}/{config.epochs}"
        for batch, (events, labels) in enumerate(_progress_batches(
            train_set, config.batch_size, description, progress, order
        ), start=1):
            events, labels = events.to(device), labels.to(device)
            logits = spike_count_logits(model(events), config.logit_scale)
            loss = torch.nn.functional.cross_entropy(logits, labels)
            value = loss.item()
            if not math.isfinite(value):
                raise TrainingDiverged(epoch + 1, batch, f"the loss is {value}")
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            if not _all_finite([p.grad for p in parameters if p.grad is not None]):
                raise TrainingDiverged(epoch + 1, batch, "a gradient is NaN or infinite")
            try:
                optimiser.step()
            except RuntimeError as error:  # Adam's step size past float32's range
                raise TrainingDiverged(epoch + 1, batch, f"the optimiser step failed ({error})"
                                       ) from None
            scheduler.step()
            if not _all_finite(parameters):
                raise TrainingDiverged(epoch + 1, batch,
                                       "a parameter is NaN or infinite after the step")
            total_loss += value * len(labels)
            correct += int((logits.argmax(dim=1) == labels).sum())
        test_accuracy = accuracy(test_set)
        chosen = ""
        if validation is not None:
            score = accuracy(validation)
            if best is None or score >= best[0]:
                best = (score, {k: v.detach().clone() for k, v in net.state_dict().items()})
                chosen = f"  validation {score:.3f} (best so far)"
            else:
                chosen = f"  validation {score:.3f}"
        history.append(
            EpochRecord(
                epoch=epoch + 1,
                loss=total_loss / len(train_set),
                train_accuracy=correct / len(train_set),
                test_accuracy=test_accuracy,
                seconds=time.perf_counter() - start,
                lr=optimiser.param_groups[0]["lr"],
            )
        )
        if log_epochs:
            tqdm.write(
                f"epoch {epoch + 1}: loss {history[-1].loss:.3f}  "
                f"train {history[-1].train_accuracy:.3f}  held-out "
                f"{'on the chip ' if hardware is not None else ''}{test_accuracy:.3f}{chosen}"
            )
        if on_epoch is not None:
            on_epoch(TrainingProgress(
                epochs=epoch + 1, history=list(history),
                optimiser=copy.deepcopy(optimiser.state_dict()),
                scheduler=scheduler.state_dict(), order=order.get_state(),
                rng=global_rng_states(device), best=best, seconds=time.perf_counter() - start))
    if best is not None:
        net.load_state_dict(best[1])
    return history
