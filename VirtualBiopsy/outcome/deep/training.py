"""Train a 3D CNN classifier on tumour-centred crops for a binary target.

Seeded throughout: the network's initial weights, the stratified validation split by patient, the batch order
and the augmentation (random flips per axis, small per-channel intensity scale and shift). The loss is
cross-entropy weighted by inverse class frequency; training stops early when the validation AUC has not improved
for ``patience`` epochs, and the weights of the best epoch are kept.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from VirtualBiopsy.errors import InputError, ModelError, requirePackage
from VirtualBiopsy.outcome.deep.networks import checkNetwork
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress


@dataclass
class TrainingSettings:
    """How to train (every field is recorded in the model's ``config.json``)."""

    network: str = "DenseNet"
    networkSize: str = "small"
    epochs: int = 30
    batchSize: int = 4
    learningRate: float = 1e-3
    validationFraction: float = 0.25
    patience: int = 10
    seed: int = 0
    flipProbability: float = 0.5
    intensityScale: float = 0.1
    intensityShift: float = 0.1

    def toDict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def fromDict(cls, values: dict[str, Any]) -> "TrainingSettings":
        """Settings from a mapping; unknown keys are refused."""
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"Unknown training setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}.")
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Raise :class:`InputError` for a value out of range."""
        checkNetwork(self.network, self.networkSize)
        for name in ("epochs", "batchSize", "patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"Training setting {name} is {value!r}; give a whole number, at least 1.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**63:
            raise InputError(f"Training setting seed is {self.seed!r}; give a whole number from 0 to 2**63 - 1.")
        if not 0.0 < self.validationFraction < 1.0:
            raise InputError(f"validationFraction is {self.validationFraction}; give a fraction between 0 and 1.")
        for name in ("learningRate", "flipProbability", "intensityScale", "intensityShift"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise InputError(f"Training setting {name} is {value!r}; give a finite number, not negative.")


@dataclass
class TrainingResult:
    """What training gives: the best weights and how they were chosen."""

    stateDict: dict[str, Any]
    validationAuc: float
    validationLoss: float
    bestEpoch: int
    epochsRun: int
    trainingPatients: list[str]
    validationPatients: list[str]
    history: list[dict[str, float]] = field(default_factory=list)


def splitPatients(patients: list[str], labels: np.ndarray, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Stratified split of patient indices into training and validation (at least one of each class in each).

    :raises InputError: when a class has fewer than two patients.
    """
    rng = np.random.default_rng(seed)
    training: list[int] = []
    validation: list[int] = []
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        if members.size < 2:
            raise InputError(
                f"Class {int(value)} has {members.size} patient(s); a validation split by patient needs "
                "at least two of each class (one to train on, one to validate)."
            )
        members = rng.permutation(members)
        count = min(members.size - 1, max(1, round(fraction * members.size)))
        validation.extend(int(i) for i in members[:count])
        training.extend(int(i) for i in members[count:])
    return sorted(training), sorted(validation)


def augment(batch: Any, generator: Any, settings: TrainingSettings) -> Any:
    """Random flips per spatial axis and per-channel intensity scale and shift, drawn from ``generator``."""
    torch = requirePackage("torch")
    batch = batch.clone()
    samples, channels = batch.shape[:2]
    for index in range(samples):
        for axis in (1, 2, 3):
            if float(torch.rand((), generator=generator)) < settings.flipProbability:
                batch[index] = batch[index].flip(axis)
    scale = 1.0 + settings.intensityScale * (2 * torch.rand((samples, channels, 1, 1, 1), generator=generator) - 1)
    shift = settings.intensityShift * (2 * torch.rand((samples, channels, 1, 1, 1), generator=generator) - 1)
    return batch * scale + shift


def trainNetwork(
    network: Any,
    crops: np.ndarray,
    labels: np.ndarray,
    patients: list[str],
    settings: TrainingSettings,
    device: str = "cpu",
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> TrainingResult:
    """Train ``network`` (already built, seeded) on ``crops`` ``(N, C, k, j, i)`` with class indices ``labels``.

    :raises InputError: for mismatched inputs or too few patients per class.
    """
    torch = requirePackage("torch")
    metrics = requirePackage("sklearn.metrics", "scikit-learn")
    progress = progress or noProgress
    settings.check()
    if crops.ndim != 5 or len(crops) != len(labels) or len(labels) != len(patients):
        raise InputError(
            f"Crops {crops.shape}, {len(labels)} labels and {len(patients)} patients do not match; "
            "give one 4D crop (channels, k, j, i) and one label per patient."
        )
    trainIndex, validIndex = splitPatients(patients, labels, settings.validationFraction, settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    data = torch.from_numpy(np.ascontiguousarray(crops, dtype=np.float32))
    target = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    counts = np.bincount(labels[trainIndex], minlength=2).astype(float)
    weights = torch.tensor(counts.sum() / (2.0 * counts), dtype=torch.float32, device=device)
    lossFunction = torch.nn.CrossEntropyLoss(weight=weights)
    network = network.to(device)
    optimizer = torch.optim.Adam(network.parameters(), lr=settings.learningRate)
    best = (-math.inf, math.inf)
    bestState: dict[str, Any] | None = None
    bestEpoch, history, stale = 0, [], 0
    for epoch in range(1, settings.epochs + 1):
        network.train()
        order = torch.randperm(len(trainIndex), generator=generator).tolist()
        trainLoss = 0.0
        for start in range(0, len(order), settings.batchSize):
            if cancel is not None:
                cancel.raiseIfCancelled()
            chosen = [trainIndex[i] for i in order[start : start + settings.batchSize]]
            batch = augment(data[chosen], generator, settings).to(device)
            optimizer.zero_grad()
            loss = lossFunction(network(batch), target[chosen].to(device))
            loss.backward()
            optimizer.step()
            trainLoss += loss.item() * len(chosen)
        auc, validLoss = _validate(network, data[validIndex], target[validIndex], lossFunction, device, metrics)
        history.append(
            {
                "epoch": epoch,
                "trainingLoss": trainLoss / len(trainIndex),
                "validationLoss": validLoss,
                "validationAuc": auc,
            }
        )
        if (auc, -validLoss) > (best[0], -best[1]):
            best, bestEpoch, stale = (auc, validLoss), epoch, 0
            bestState = {name: value.detach().cpu().clone() for name, value in network.state_dict().items()}
        else:
            stale += 1
        progress(epoch / settings.epochs, f"epoch {epoch}/{settings.epochs}: validation AUC {auc:.3f}")
        if stale >= settings.patience:
            break
    assert bestState is not None, "epoch 1 always improves on (-inf, inf): epochs >= 1 and its AUC is finite"
    return TrainingResult(
        copy.copy(bestState),
        float(best[0]),
        float(best[1]),
        bestEpoch,
        len(history),
        [patients[i] for i in trainIndex],
        [patients[i] for i in validIndex],
        history,
    )


def _validate(network, data, target, lossFunction, device, metrics) -> tuple[float, float]:
    torch = requirePackage("torch")
    network.eval()
    with torch.no_grad():
        logits = network(data.to(device))
        loss = float(lossFunction(logits, target.to(device)))
        probabilities = torch.softmax(logits, dim=1)[:, 1].cpu().numpy()
    if not (np.isfinite(probabilities).all() and math.isfinite(loss)):
        raise ModelError(
            f"Training diverged: the validation loss is {loss} and some predictions are not finite. "
            "Lower the learning rate (e.g. 1e-4) or check the crops for extreme values."
        )
    return float(metrics.roc_auc_score(target.numpy(), probabilities)), loss
