"""The run behind ``train`` and ``demo``: data, float training, hardware-exact fine-tuning,
the finished run's files, and its state after every epoch so that ``--resume`` continues an
interrupted run to bitwise the checkpoint the uninterrupted run writes.

The unfinished run's state (:data:`~synnet_triton.kws.run_folder.PROGRESS_NAME`) is a dict::

    format    RUN_STATE_FORMAT
    run       the run's data and model options (``--resume`` takes them from here)
    data      SHA-256 of the training and held-out events, labels and class names
    phase     "float" or "hardware"
    rng       the global torch generators at the start of the phase
    net       the network's state_dict after the last finished epoch (None: as built)
    training  TrainingProgress.to_dict() of the phase (None: no epoch finished)
    float_history, hardware_before   (phase "hardware") what the float phase measured
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from synnet_triton.kws.data import EventSet
from synnet_triton.kws.data_sources import load_sets
from synnet_triton.kws.options import DataOptions, ModelOptions, TrainRun
from synnet_triton.kws.run_folder import (
    CHECKPOINT_NAME,
    SUMMARY_NAME,
    RunFolder,
    RunFolderError,
    atomic_write_bytes,
)
from synnet_triton.kws.runs import (
    SATURATED_SPIKES_PER_STEP,
    SILENT_SPIKES_PER_CLIP,
    device_name,
    parse_device,
    resolved_backend,
    write_summary,
)
from synnet_triton.xylo.design import DesignError

if TYPE_CHECKING:
    from synnet_triton.kws.training import (
        EpochRecord,
        Evaluation,
        NetworkConfig,
        TrainConfig,
        TrainingProgress,
    )
    from synnet_triton.nn.synnet import SynNet
    from synnet_triton.xylo.design import DesignReport

__all__ = ["FinishedRun", "open_run", "train_run", "commit_run"]

RUN_STATE_FORMAT = 1
BYTES_PER_PARAMETER = 4 * 4
"""A parameter's float32 in the checkpoint, the state, and Adam's two moments."""
PLOT_BYTES = 4 << 20


@dataclass
class FinishedRun:
    """A trained run whose files are being written into ``staged`` (not yet in force: see
    :func:`commit_run`); ``summary`` lists what the folder will hold."""

    run: TrainRun
    summary: dict[str, Any]
    net: SynNet
    test_set: EventSet
    float: Evaluation
    folder: RunFolder
    staged: Path


def _needs_bytes(model: ModelOptions) -> int:
    hidden = model.hidden or 0
    parameters = 16 * hidden * model.time_constants + hidden * hidden + hidden * 64
    return BYTES_PER_PARAMETER * parameters + PLOT_BYTES


def _options_record(run: TrainRun) -> dict[str, Any]:
    def plain(options: DataOptions | ModelOptions) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()}

    return {"data": plain(run.data), "model": plain(run.model),
            "must_fit_chip": run.must_fit_chip}


def _run_from_record(record: dict[str, Any], run: TrainRun) -> TrainRun:
    """``run`` with the recorded options; its folder and runtime stay (a run resumed on
    another device or backend continues, but not bitwise)."""
    data = dict(record["data"])
    for key in ("data", "test_data"):
        data[key] = None if data[key] is None else Path(data[key])
    return replace(run, data=DataOptions(**data), model=ModelOptions(**record["model"]),
                   must_fit_chip=bool(record["must_fit_chip"]))


def data_fingerprint(*sets: EventSet) -> str:
    """SHA-256 of the sets' events, labels and class names: a resumed run must see the data
    it started with."""
    digest = hashlib.sha256()
    for data in sets:
        digest.update(data.events.contiguous().numpy().tobytes())
        digest.update(data.labels.contiguous().numpy().tobytes())
        digest.update("\0".join(data.class_names).encode())
    return digest.hexdigest()


def open_run(run: TrainRun) -> tuple[RunFolder, TrainRun, dict[str, Any] | None]:
    """Check the runtime, then create, check and lock ``run.out`` before any data is read;
    with ``run.resume`` the unfinished run's state and its recorded options."""
    resolved_backend(run.runtime.backend, parse_device(run.runtime.device))
    needs = 0 if run.resume else _needs_bytes(run.model.for_data(run.data))
    folder = RunFolder.open(run.out, resume=run.resume, force=run.force, needs_bytes=needs)
    if not run.resume:
        return folder, run, None
    try:
        state = folder.load_progress()
        if state.get("format") != RUN_STATE_FORMAT or "run" not in state:
            raise RunFolderError(f"--resume {run.out}: its progress file has another format; "
                                 "train again with --force")
        return folder, _run_from_record(state["run"], run), state
    except BaseException:
        folder.close()
        raise


def _progress(state: dict[str, Any] | None) -> TrainingProgress | None:
    from synnet_triton.kws.training import TrainingProgress

    return None if state is None else TrainingProgress.from_dict(state)


def train_run(run: TrainRun, folder: RunFolder, state: dict[str, Any] | None) -> FinishedRun:
    """Data, training (from ``state`` if resuming), float evaluation; the checkpoint and the
    training curve staged in a new generation of ``folder``."""
    from synnet_triton.kws.checkpoint import checkpoint_bytes
    from synnet_triton.kws.plots import plot_training_curve
    from synnet_triton.kws.training import (
        NetworkConfig,
        TrainConfig,
        build_network,
        evaluate,
        global_rng_states,
        restore_global_rng_states,
        train,
    )

    device = parse_device(run.runtime.device)
    backend = resolved_backend(run.runtime.backend, device)
    progress = run.runtime.progress
    model = run.model.for_data(run.data)
    assert model.hidden is not None and model.epochs is not None and model.lr is not None
    if model.epochs == 0 and not model.hardware_aware:
        raise ValueError("--epochs 0 trains nothing: add --hardware-aware to train through "
                         "the chip from scratch")
    train_set, test_set, source = load_sets(run.data, progress)
    if len(train_set.class_names) < 2:
        raise ValueError(f"--data {run.data.data}: one class ({train_set.class_names[0]}); "
                         "a keyword spotter needs at least two class folders")
    fingerprint = data_fingerprint(train_set, test_set)
    if state is not None and state["data"] != fingerprint:
        raise RunFolderError(f"--resume {run.out}: the data differ from those the run "
                             "started with; train again with --force")
    network = NetworkConfig(
        n_classes=len(train_set.class_names),
        n_channels=train_set.events.shape[-1],
        hidden=(model.hidden,),
        time_constants=(model.time_constants,),
    )
    model, choice = _with_target(model, network)
    assert model.target is not None and model.epochs is not None and model.lr is not None
    design = network.design_report(model.target)
    if not design.fits and (run.must_fit_chip or model.hardware_aware):
        raise DesignError(design)
    if choice and state is None:
        print(choice)
    if design.violations and state is None:
        print(f"note: {design}" + ("" if design.fits else
              "\n  (trained in float only; eval --xylo will refuse it)"), file=sys.stderr)
    settings = TrainConfig(epochs=model.epochs, batch_size=model.batch_size, lr=model.lr,
                           seed=model.seed, init_gain=model.init_gain)
    net = build_network(network, backend=backend, seed=model.seed,
                        init_gain=model.init_gain).to(device)
    if state is None:
        torch.manual_seed(model.seed)  # time-step dropout draws from the global generator
        state = {"format": RUN_STATE_FORMAT, "run": _options_record(run), "data": fingerprint,
                 "phase": "float", "rng": global_rng_states(device), "net": None,
                 "training": None}
        folder.save_progress(state)
    else:
        restore_global_rng_states(state["rng"], device)
    if state["net"] is not None:
        net.load_state_dict(state["net"])

    def saver(phase_state: dict[str, Any]) -> Any:
        def save(done: TrainingProgress) -> None:
            folder.save_progress({**phase_state, "net": net.state_dict(),
                                  "training": done.to_dict()})
        return save

    if state["phase"] == "float":
        with _advice_on_divergence(run, "--lr", settings.lr):
            history = train(net, train_set, test_set, settings, progress=progress,
                            log_epochs=True, resume=_progress(state["training"]),
                            on_epoch=saver(state))
        state = {**state, "phase": "hardware", "rng": global_rng_states(device),
                 "net": net.state_dict(), "training": None,
                 "float_history": [asdict(record) for record in history]}
    hardware = None
    if model.hardware_aware:
        with _advice_on_divergence(run, "--hardware-lr", model.hardware_lr):
            hardware = _hardware_phase(net, train_set, test_set, settings, model, progress,
                                       folder, state, saver)
    history = _records(state["float_history"])
    result = evaluate(net, test_set, progress=progress)
    _warn_about_the_readout(result.counts, test_set)
    staged = folder.stage()
    quantize = model.quantize
    extra = {"source": source, "class_names": train_set.class_names,
             "float_accuracy": result.accuracy, "xylo_target": model.target,
             "xylo_quantize": quantize}
    if hardware is not None:
        extra["xylo_accuracy"] = hardware["xylo_accuracy"]
    atomic_write_bytes(staged / CHECKPOINT_NAME, checkpoint_bytes(net, network, extra))
    curve = plot_training_curve(history, staged / "training_curve.png")
    summary = {
        "float_accuracy": result.accuracy,
        "float_predictions": result.predictions.tolist(),
        "float_readout_spikes_per_clip": result.counts.sum(dim=1).mean().item(),
        "backend": backend,
        "device": device_name(device),
        "train_seconds": history[-1].seconds if history else 0.0,
        "clips_per_second": result.clips_per_second,
        "train_clips": len(train_set),
        "test_clips": len(test_set),
        "time_steps": train_set.events.shape[1],
        "network": asdict(network),
        "xylo_target": model.target,
        "xylo_quantize": quantize,
        "xylo_design": [str(violation) for violation in design.violations],
        "training": asdict(settings),
        "data": source,
        "history": [asdict(record) for record in history],
        "checkpoint": str(run.out / CHECKPOINT_NAME),
        "plots": [str(run.out / curve.name)],
    }
    if hardware is not None:
        summary["hardware_aware"] = hardware
        summary["float_accuracy_before_hardware_aware"] = hardware["float_before"]
        summary["ptq_xylo_accuracy"] = hardware["ptq_xylo_accuracy"]
        summary["xylo_accuracy"] = hardware["xylo_accuracy"]
    return FinishedRun(replace(run, model=model), summary, net, test_set, result, folder,
                       staged)


@contextmanager
def _advice_on_divergence(run: TrainRun, option: str, lr: float) -> Iterator[None]:
    """A divergence says what is kept and what to change."""
    from synnet_triton.kws.training import TrainingDiverged

    try:
        yield
    except TrainingDiverged as error:
        raise TrainingDiverged(
            error.epoch, error.batch, error.what,
            f"the run in force in {run.out} and its last finished epoch are kept; lower "
            f"{option} (now {lr:g}) or --init-gain (now {run.model.init_gain:g}) and train "
            "again with --force") from None


def _with_target(model: ModelOptions, network: NetworkConfig) -> tuple[ModelOptions, str]:
    """``model`` with its target: the given one, or the smallest of the audio family that
    holds ``network`` (else the smallest, whose report then says what breaks); and the line
    that says which and why ("" when given)."""
    from synnet_triton.xylo.design import smallest_target
    from synnet_triton.xylo.targets import AUDIO_FAMILY, TARGETS

    if model.target is not None:
        return model, ""
    sizes = (network.n_channels, list(network.hidden), network.n_classes)
    chosen, reports = smallest_target(*sizes)
    shape = f"{network.n_channels} → {' → '.join(map(str, network.hidden))} → {network.n_classes}"
    if chosen is None:
        return replace(model, target=AUDIO_FAMILY[0]), (
            f"target: no Xylo Audio chip holds {shape} ("
            + "; ".join(f"{TARGETS[name].chip}: {_broken(report)}"
                        for name, report in reports.items()) + ")")
    why = "; ".join(f"{TARGETS[name].chip} cannot: {_broken(reports[name])}"
                    for name in AUDIO_FAMILY[:AUDIO_FAMILY.index(chosen)])
    return replace(model, target=chosen), (
        f"target: {chosen}, the smallest Xylo Audio chip that holds {shape}"
        + (f" ({why})" if why else ""))


def _broken(report: DesignReport) -> str:
    return ", ".join(f"{v.rule} {v.found} > {v.limit}" for v in report.errors)


def _records(rows: list[dict[str, Any]]) -> list[EpochRecord]:
    from synnet_triton.kws.training import EpochRecord

    return [EpochRecord(**row) for row in rows]


def _warn_about_the_readout(counts: torch.Tensor, test_set: EventSet) -> None:
    readout = counts.sum(dim=1).mean().item()
    per_neuron_step = readout / (test_set.events.shape[1] * len(test_set.class_names))
    if per_neuron_step > SATURATED_SPIKES_PER_STEP:
        print(f"warning: the readout saturates ({per_neuron_step:.1f} spikes per neuron and "
              "step; Xylo emits at most 1): lower --init-gain or --lr", file=sys.stderr)
    if readout < SILENT_SPIKES_PER_CLIP:
        print(f"warning: the readout is silent ({readout:.2f} spikes per held-out clip): the "
              "network cannot tell the classes apart; lower --lr or raise --init-gain",
              file=sys.stderr)


def _hardware_phase(
    net: SynNet, train_set: EventSet, test_set: EventSet, settings: TrainConfig,
    model: ModelOptions, progress: bool, folder: RunFolder, state: dict[str, Any],
    saver: Any,
) -> dict[str, Any]:
    """Fine-tune ``net`` in place through the chip's integer arithmetic (``--hardware-aware``)
    after measuring it in float and post-training quantised on the chip; returns the summary
    of the three accuracies side by side. Resumes from ``state`` in phase "hardware"."""
    from synnet_triton.hardware import HardwareSynNet
    from synnet_triton.kws.training import (
        evaluate,
        evaluate_xylo,
        global_rng_states,
        restore_global_rng_states,
        train,
    )

    device = next(net.parameters()).device
    assert model.target is not None  # chosen by train_run
    if "hardware_before" not in state:
        float_before = evaluate(net, test_set, progress=progress).accuracy
        ptq = evaluate_xylo(net, test_set, progress=progress, target=model.target,
                            quantize=model.quantize).accuracy
        state.update(hardware_before={"float_before": float_before, "ptq": ptq},
                     rng=global_rng_states(device))
        folder.save_progress(state)
    else:
        restore_global_rng_states(state["rng"], device)
    before = state["hardware_before"]
    print(f"before hardware-exact training: float {before['float_before']:.3f}  "
          f"post-training quantised on {model.target} {before['ptq']:.3f}")
    hardware = HardwareSynNet(net, quantize=model.quantize, target=model.target)
    fine_tuning = replace(settings, epochs=model.hardware_epochs, lr=model.hardware_lr)
    history = train(net, train_set, test_set, fine_tuning, progress=progress, log_epochs=True,
                    hardware=hardware, resume=_progress(state["training"]),
                    on_epoch=saver(state))
    chip = evaluate_xylo(net, test_set, progress=progress, target=model.target,
                         quantize=model.quantize)
    return {
        "float_before": before["float_before"],
        "ptq_xylo_accuracy": before["ptq"],
        "xylo_accuracy": chip.accuracy,
        "xylo_predictions": chip.predictions.tolist(),
        "quantize": model.quantize,
        "target": model.target,
        "training": asdict(fine_tuning),
        "train_seconds": history[-1].seconds if history else 0.0,
        "history": [asdict(record) for record in history],
    }


def commit_run(finished: FinishedRun) -> None:
    """Write the summary (naming the checkpoint's SHA-256) beside the staged files and make
    the generation the run in force, all files at once; the progress goes."""
    from synnet_triton.kws.checkpoint import file_sha256

    summary = finished.summary
    summary["checkpoint_sha256"] = file_sha256(finished.staged / CHECKPOINT_NAME)
    write_summary(summary, finished.staged / SUMMARY_NAME)
    finished.folder.commit(finished.staged)
