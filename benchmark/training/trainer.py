"""The one training loop every run uses: only the loss changes between two runs of a grid.

The trainer owns the model (a dual encoder with a hash head per modality), the loss, their optimizers and the
log of every evaluation. How features are obtained (frozen cache or fine-tuned backbone) is its feature
source's business and which items train and which state is reported is its protocol's. Every random draw
comes from generators seeded with the run's seed: the batch order from a numpy generator, the heads'
initialisation and dropout masks from a torch generator, proxies and centers from the loss's own.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

import losses
from methods import Backbone, DualEncoder, warmup_cosine

from ..config import RunSpec
from ..data import PairedDataset, Split
from ..device import Precision
from ..metrics import evaluate, relevance
from ..record import DIRECTION_MODALITIES, EpochLog
from .feature_sources import FeatureSource
from .protocols import Outcome, SelectionProtocol, protocol_of
from .state import snapshot, state_sha256


class TrainingDiverged(RuntimeError):
    """A loss term became NaN or infinite; the run stops and is recorded as failed."""


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of a query set against a database: metrics per direction, the ±1 codes they came from
    (``query_image``, ``query_text``, ``retrieval_image``, ``retrieval_text``), and for full evaluations the
    continuous outputs behind them and the fingerprint of the state that produced them."""

    results: dict[str, dict]
    codes: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray] | None
    state_sha256: str | None


def sign_codes(outputs: np.ndarray) -> np.ndarray:
    """±1 int8 codes of continuous outputs (x >= 0 is +1)."""
    return np.where(outputs >= 0, 1, -1).astype(np.int8)


def scored_items(query: np.ndarray, database: np.ndarray) -> dict[str, int | str]:
    """What an evaluation scored, as its log entry records it (``RunRecord.evaluations``): the number of query
    and database items and the SHA-256 of each index array as given (in the order scored, little-endian int64),
    so that a test recomputing the split can tell which items were scored whatever the set is called."""
    def fingerprint(indices: np.ndarray) -> str:
        return hashlib.sha256(np.ascontiguousarray(indices, dtype="<i8").tobytes()).hexdigest()

    return {"query_items": len(query), "database_items": len(database),
            "query_sha256": fingerprint(query), "database_sha256": fingerprint(database)}


def build_loss(spec: RunSpec, n_classes: int) -> losses.HashingLoss:
    """The run's loss; a loss that takes a ``seed`` and is not given one draws from the run's seed."""
    params = dict(spec.loss_params)
    if "seed" in losses.parameters(spec.loss) and "seed" not in params:
        params["seed"] = spec.seed
    return losses.build(spec.loss, n_classes, spec.bits, **params)


class Trainer:
    """One run: the model and the loss, trained on the items its protocol gives and scored as it asks."""

    def __init__(self, spec: RunSpec, dataset: PairedDataset, split: Split, backbone: Backbone,
                 features: FeatureSource, device: torch.device, precision: Precision,
                 progress: bool = False):
        self.spec, self.settings, self.dataset, self.backbone = spec, spec.settings, dataset, backbone
        self.features: FeatureSource = features
        self.device, self.precision, self.progress = device, precision, progress
        self.generator = torch.Generator().manual_seed(spec.seed)  # the heads' initialisation, then dropout
        self.model = DualEncoder(backbone.model, spec.bits, self.settings.dropout, self.generator).to(device)
        self.loss = build_loss(spec, len(dataset.class_names)).to(device)
        self.protocol: SelectionProtocol = protocol_of(spec)(split)
        self.labels = torch.from_numpy(dataset.labels).float()
        self.trained = np.zeros(len(dataset), dtype=bool)  # items that reached a training batch
        self.steps = 0
        self.evaluations: list[dict] = []
        self.relevant: dict[tuple[str, str], np.ndarray] = {}  # by the scored items' hashes: see evaluate
        self.timings = {"encode_s": 0.0, "train_s": 0.0, "eval_s": 0.0}
        self.observers: list[Callable[[EpochLog], None]] = []  # called with each epoch's log (e.g. TensorBoard)

    # -------------------------------------------------------------------------------------- the algorithm

    def fit(self) -> tuple[list[EpochLog], Outcome]:
        """Train for the configured epochs on the protocol's items, in an order drawn from the run's seed,
        letting the protocol evaluate every ``eval_every``-th epoch and the last one; then the protocol picks
        and evaluates the reported state among those. Returns the per-epoch history and the protocol's outcome."""
        settings = self.settings
        items = self.protocol.training_indices()
        order = np.random.default_rng(self.spec.seed)
        optimizers = self._optimizers(settings.epochs * -(-len(items) // settings.batch_size))
        self.features.set_mode(self.model, True)
        history: list[EpochLog] = []
        epochs = tqdm(range(1, settings.epochs + 1), desc=self.spec.label, disable=not self.progress, unit="epoch",
                      leave=False)
        for epoch in epochs:
            start = time.perf_counter()
            loss = self.train_epoch(epoch, order.permutation(items), optimizers)
            self.timings["train_s"] += time.perf_counter() - start
            evaluated = epoch % settings.eval_every == 0 or epoch == settings.epochs
            scores = self.protocol.after_epoch(self, epoch) if evaluated else {}
            entry = EpochLog(epoch, loss, **scores, seconds=time.perf_counter() - start)
            history.append(entry)
            for observe in self.observers:
                observe(entry)
            epochs.set_postfix(loss=f"{loss['total']:.4f}")
        return history, self.protocol.finish(self)

    def train_epoch(self, epoch: int, order: np.ndarray, optimizers) -> dict[str, float]:
        """One pass over ``order`` in batches; returns the mean of each loss term (and ``total``)."""
        optimizer, schedule, loss_optimizer, loss_schedule = optimizers
        batch_size = self.settings.batch_size
        parameters = [p for group in optimizer.param_groups for p in group["params"]]
        names, sums = None, None  # the terms' running sums in float64, as one tensor
        batches = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
        for step, (batch, image, text) in enumerate(self.features.batches(self.model, batches)):
            self.trained[batch] = True
            with self.precision.autocast():
                consumes = self.loss.consumes  # tanh codes, or the heads' unbounded outputs (losses.HashingLoss)
                image_out = self.model.image_head(image, consumes).float()
                text_out = self.model.text_head(text, consumes).float()
            out = self.loss(image_out, text_out, self.labels[batch].to(self.device))
            if not torch.isfinite(out.total.detach()):  # a non-finite term makes the total non-finite
                self._diverged(out, epoch, step + 1)
            optimizer.zero_grad(set_to_none=True)
            if loss_optimizer is not None:
                loss_optimizer.zero_grad(set_to_none=True)
            out.total.backward()
            torch.nn.utils.clip_grad_norm_(parameters, self.settings.optimizer.grad_clip)
            optimizer.step()
            schedule.step()
            if loss_optimizer is not None:
                loss_optimizer.step()
                loss_schedule.step()
            self.steps += 1
            values = torch.stack([out.total.detach(), *(v.detach() for v in out.terms.values())]).double()
            names, sums = names or ["total", *out.terms], values if sums is None else sums + values
        return {name: total / len(batches) for name, total in zip(names, sums.tolist())}

    # ------------------------------------------------------------------------------ state and evaluation

    def snapshot(self) -> dict[str, torch.Tensor]:
        """A copy of everything training changes: the trainable part of the model (``model.*``) and the
        loss's own state (``loss.*``: proxies, centers)."""
        return {**{f"model.{k}": v for k, v in snapshot(self.features.trainable(self.model)).items()},
                **{f"loss.{k}": v for k, v in snapshot(self.loss).items()}}

    def restore(self, state: dict[str, torch.Tensor]) -> None:
        for prefix, module in (("model.", self.features.trainable(self.model)), ("loss.", self.loss)):
            module.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})

    def kept_state(self) -> dict[str, np.ndarray]:
        """What a run keeps of its current state: the hash heads' weights and the loss's own state."""
        heads = {k: v for k, v in self.model.state_dict().items() if k.startswith(("image_head.", "text_head."))}
        kept = {**heads, **{f"loss.{k}": v for k, v in self.loss.state_dict().items()}}
        return {k: v.detach().float().cpu().numpy() for k, v in kept.items()}

    @torch.no_grad()
    def outputs(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        """Continuous (pre-sign) float32 outputs of both modalities for ``indices``, in evaluation mode."""
        start = time.perf_counter()
        self.features.set_mode(self.model, False)
        image, text = self.features.features(self.model, indices)
        with self.precision.autocast():
            out = {"image": self.model.image_head(image), "text": self.model.text_head(text)}
        self.features.set_mode(self.model, True)
        self.timings["encode_s"] += time.perf_counter() - start
        return {k: v.float().cpu().numpy() for k, v in out.items()}

    def evaluate(self, stage: str, set_name: str, query: np.ndarray, database: np.ndarray, directions,
                 full: bool) -> Evaluation:
        """Codes of ``query`` and ``database`` items and the metrics of ``directions``; logged with what was
        scored (``scored_items``). A full evaluation computes every metric and fingerprints the state it used;
        otherwise mAP only, with the pairs' relevance computed once for the items scored (the validation split,
        every epoch and both directions)."""
        state = state_sha256(self.snapshot()) if full else None
        outputs = {f"{part}_{modality}": value for part, indices in (("query", query), ("retrieval", database))
                   for modality, value in self.outputs(indices).items()}
        codes = {name: sign_codes(value) for name, value in outputs.items()}
        start = time.perf_counter()
        results, scored = {}, scored_items(query, database)
        q_labels, r_labels = self.dataset.labels[query], self.dataset.labels[database]
        if full:
            options = {"topk": self.settings.topk}
        else:
            key = (scored["query_sha256"], scored["database_sha256"])
            if key not in self.relevant:
                self.relevant[key] = relevance(q_labels, r_labels)
            options = {"topk": (), "radius": False, "precision_at": (), "graded": False, "tie_bounds": False,
                       "relevant": self.relevant[key]}
        for direction in directions:
            source, target = DIRECTION_MODALITIES[direction]
            results[direction] = evaluate(codes[f"query_{source}"], codes[f"retrieval_{target}"], q_labels, r_labels,
                                          device=self.device if self.device.type != "cpu" else None, **options)
            self.evaluations.append({"stage": stage, "set": set_name, "direction": direction, **scored})
        self.timings["eval_s"] += time.perf_counter() - start
        return Evaluation(results, codes, outputs if full else None, state)

    # -------------------------------------------------------------------------------------------- helpers

    def _optimizers(self, total_steps: int):
        """The heads' AdamW and the loss's own optimizer (learned proxies), each at its own learning rate and
        both on the same warmup + cosine schedule: a proxy at a constant rate while the heads anneal would give
        the proxy-based losses another training dynamic than the rest (docs/protocol.md)."""
        o = self.settings.optimizer
        optimizer = torch.optim.AdamW(self.features.param_groups(self.model, self.settings),
                                      weight_decay=o.weight_decay, betas=o.betas, eps=o.eps)
        warmup = round(o.warmup * total_steps)
        loss_optimizer = self.loss.make_optimizer()
        loss_schedule = None if loss_optimizer is None else warmup_cosine(loss_optimizer, total_steps, warmup)
        return optimizer, warmup_cosine(optimizer, total_steps, warmup), loss_optimizer, loss_schedule

    def _diverged(self, out: losses.LossOutput, epoch: int, step: int) -> None:
        """Raise TrainingDiverged naming the first term that is not finite (or the total, when only their sum
        overflowed)."""
        for name, value in [*out.terms.items(), ("total", out.total)]:
            if not torch.isfinite(value.detach()).all():
                raise TrainingDiverged(f"loss {self.spec.loss!r} diverged at epoch {epoch}, step {step}: "
                                       f"term '{name}' is {float(value.detach())}")
