"""The one training loop every run uses: only the loss changes between two runs of a grid.

``train_and_evaluate`` builds the dual encoder on a CLIP backbone folder, the loss with ``losses.build``,
an AdamW optimizer for the model (heads; plus the backbone when fine-tuning) and the loss's own optimizer
as the loss declares it; trains with a seeded batch order; selects the checkpoint by protocol and
evaluates every direction with ``benchmark.metrics.evaluate``.

Protocols: ``honest`` picks the epoch by validation mAP (mean of I->T and T->I, validation queries
against the rest of the train set, which is also all the model is trained on) and evaluates the query set
once, at that epoch. ``paper`` trains on the whole train set, evaluates the query set every epoch and
keeps the best epoch per direction, as the published code does (optimistic).
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

import losses
from methods import DualEncoder, ImageTransform, cached_features, encode_features, load_backbone, tokenize
from methods import warmup_cosine

from .data import PairedDataset, Split
from .environment import environment
from .metrics import evaluate

DIRECTIONS = {"i2t": ("image", "text"), "t2i": ("text", "image"), "i2i": ("image", "image"),
              "t2t": ("text", "text")}
CURVE_KEYS = ("pr_radius", "precision@N", "recall@N")


class TrainingDiverged(RuntimeError):
    """A loss term became NaN or infinite; the run stops and is recorded as failed."""


@dataclass(frozen=True)
class TrainSettings:
    """Everything that shapes a training run besides the data and the backbone (PROTOCOL.md defaults)."""

    loss: str
    n_bits: int
    loss_params: dict = field(default_factory=dict)
    mode: str = "frozen"
    protocol: str = "honest"
    epochs: int = 30
    batch_size: int = 128
    seed: int = 0
    head_lr: float = 1e-3
    backbone_lr: float = 1e-5
    weight_decay: float = 0.2
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-6
    warmup: float = 0.1
    grad_clip: float = 1.0
    dropout: float = 0.2
    max_text_len: int = 32
    topk: tuple[int, ...] = (1000, 5000)
    eval_batch_size: int = 256
    device: str | None = None

    def __post_init__(self):
        for name, choices in (("mode", ("frozen", "finetune")), ("protocol", ("honest", "paper"))):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {', '.join(choices)}, got {getattr(self, name)!r}")
        for name in ("n_bits", "epochs", "batch_size", "max_text_len", "eval_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")


def resolve_device(name: str | None) -> torch.device:
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {name!r} (use cpu, cuda or cuda:N)") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} was asked for but CUDA is not available here")
    return device


def _codes_hash(codes: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(codes, np.int8).tobytes()).hexdigest()


class Trainer:
    """One run: the model, the loss, the data views, and the log of every evaluation made."""

    def __init__(self, settings: TrainSettings, dataset: PairedDataset, split: Split, backbone_path: Path,
                 cache_dir: Path, progress: bool = True):
        self.settings, self.dataset, self.split, self.progress = settings, dataset, split, progress
        self.device = resolve_device(settings.device)
        self.timings = {"encode_s": 0.0, "train_s": 0.0, "eval_s": 0.0}
        self.evaluations: list[dict] = []
        torch.manual_seed(settings.seed)
        self.backbone = load_backbone(backbone_path)
        self.model = DualEncoder(self.backbone.model, settings.n_bits, settings.dropout).to(self.device)
        self.transform = ImageTransform(self.backbone.processor)
        self.texts = [captions[0] for captions in dataset.captions]  # an item's text is its first caption
        self.labels = torch.from_numpy(dataset.labels).float()
        params = dict(settings.loss_params)
        if "seed" in losses.parameters(settings.loss) and "seed" not in params:
            params["seed"] = settings.seed  # the run's seed also draws proxies / random centers
        self.loss = losses.build(settings.loss, len(dataset.class_names), settings.n_bits, **params).to(self.device)
        # mixed precision on a GPU (bf16 where supported); the losses always see float32 codes
        self.amp_dtype = None
        if self.device.type == "cuda":
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.feature_cache = None
        if settings.mode == "frozen":
            self.model.clip.requires_grad_(False)
            self.features = self._frozen_features(cache_dir)

    # ------------------------------------------------------------------------------------ encoding

    def _frozen_features(self, cache_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
        """CLIP features of every item, from ``<cache>/features/`` (keyed by the dataset's and the
        backbone's hashes and the text length) or computed once and stored there."""
        path = (Path(cache_dir) / "features" / f"{self.dataset.name}-{self.dataset.content_hash[:16]}-"
                f"{self.backbone.hash[:16]}-len{self.settings.max_text_len}.npz")
        start = time.perf_counter()
        image, text, reused = cached_features(
            path, lambda: self._features(np.arange(len(self.dataset)), desc=f"encoding {self.dataset.name}"))
        self.timings["encode_s"] += time.perf_counter() - start
        self.feature_cache = {"path": str(path), "reused": reused}
        return image.to(self.device), text.to(self.device)

    def _features(self, indices: np.ndarray, desc: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        with self._autocast():
            return encode_features(self.model, self.backbone.tokenizer, self.transform, self._images(indices),
                                   [self.texts[i] for i in indices], batch_size=self.settings.eval_batch_size,
                                   max_length=self.settings.max_text_len, device=self.device,
                                   desc=desc if self.progress else None)

    def _images(self, indices: np.ndarray):
        images = self.dataset.images
        return images[indices] if isinstance(images, np.ndarray) else [images[i] for i in indices]

    def _autocast(self):
        return torch.autocast("cuda", dtype=self.amp_dtype) if self.amp_dtype else contextlib.nullcontext()

    def _batch_codes(self, indices: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Continuous codes of a training batch, with gradients."""
        if self.settings.mode == "frozen":
            image, text = self.features[0][indices], self.features[1][indices]
        else:
            tokens = tokenize(self.backbone.tokenizer, [self.texts[i] for i in indices], self.settings.max_text_len)
            with self._autocast():
                image = self.model.image_features(self.transform(self._images(indices)).to(self.device))
                text = self.model.text_features(**{k: v.to(self.device) for k, v in tokens.items()})
        with self._autocast():
            return self.model.image_head(image).float(), self.model.text_head(text).float()

    @torch.no_grad()
    def codes(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        """+-1 int8 codes of both modalities for ``indices``, in evaluation mode."""
        start = time.perf_counter()
        self.model.eval()
        if self.settings.mode == "frozen":
            image, text = self.features[0][indices], self.features[1][indices]
        else:
            image, text = self._features(indices)
        with self._autocast():
            out = {"image": self.model.image_head(image), "text": self.model.text_head(text)}
        self.model.train()
        self.timings["encode_s"] += time.perf_counter() - start
        return {k: np.where(v.float().cpu().numpy() >= 0, 1, -1).astype(np.int8) for k, v in out.items()}

    # ---------------------------------------------------------------------------------- evaluation

    def _evaluate(self, stage: str, set_name: str, direction: str, query: dict, database: dict,
                  q_index: np.ndarray, r_index: np.ndarray, full: bool) -> dict:
        start = time.perf_counter()
        source, target = DIRECTIONS[direction]
        options = {"topk": self.settings.topk} if full else {"topk": (), "radius": False, "precision_at": ()}
        result = evaluate(query[source], database[target], self.dataset.labels[q_index],
                          self.dataset.labels[r_index], device=self.device if self.device.type != "cpu" else None,
                          **options)
        self.evaluations.append({"stage": stage, "set": set_name, "direction": direction})
        self.timings["eval_s"] += time.perf_counter() - start
        return result

    def _validation_map(self, epoch: int) -> dict[str, float]:
        split = self.split
        query, database = self.codes(split.val_query), self.codes(split.val_database)
        maps = {d: self._evaluate(f"epoch {epoch}", "validation", d, query, database, split.val_query,
                                  split.val_database, full=False)["map"] for d in ("i2t", "t2i")}
        return {"val_map_i2t": maps["i2t"], "val_map_t2i": maps["t2i"], "val_map": (maps["i2t"] + maps["t2i"]) / 2}

    def _query_results(self, stage: str) -> tuple[dict[str, dict], dict[str, np.ndarray]]:
        query, database = self.codes(self.split.query), self.codes(self.split.retrieval)
        results = {d: self._evaluate(stage, "query", d, query, database, self.split.query, self.split.retrieval,
                                     full=True) for d in DIRECTIONS}
        return results, {"query_image": query["image"], "query_text": query["text"],
                         "retrieval_image": database["image"], "retrieval_text": database["text"]}

    # ------------------------------------------------------------------------------------ training

    def _optimizers(self, total_steps: int):
        groups = [{"params": list(self.model.heads().parameters()), "lr": self.settings.head_lr}]
        if self.settings.mode == "finetune":
            groups.append({"params": list(self.model.clip.parameters()), "lr": self.settings.backbone_lr})
        optimizer = torch.optim.AdamW(groups, weight_decay=self.settings.weight_decay, betas=self.settings.betas,
                                      eps=self.settings.eps)
        schedule = warmup_cosine(optimizer, total_steps, round(self.settings.warmup * total_steps))
        return optimizer, schedule, self.loss.make_optimizer()

    def _trainable_state(self) -> dict:
        state = self.model.heads().state_dict() if self.settings.mode == "frozen" else self.model.state_dict()
        return copy.deepcopy(state)

    def _load_trainable_state(self, state: dict) -> None:
        (self.model.heads() if self.settings.mode == "frozen" else self.model).load_state_dict(state)

    def _check_finite(self, out: losses.LossOutput, epoch: int, step: int) -> None:
        for name, value in [*out.terms.items(), ("total", out.total)]:
            if not torch.isfinite(value.detach()).all():
                raise TrainingDiverged(f"loss {self.settings.loss!r} diverged at epoch {epoch}, step {step}: "
                                       f"term '{name}' is {float(value.detach())}")

    def train_epoch(self, epoch: int, order: np.ndarray, optimizers) -> dict[str, float]:
        """One pass over ``order`` in batches; returns the mean of each loss term (and ``total``)."""
        s = self.settings
        optimizer, schedule, loss_optimizer = optimizers
        sums: dict[str, float] = {}
        steps = -(-len(order) // s.batch_size)
        for step in range(steps):
            batch = order[step * s.batch_size:(step + 1) * s.batch_size]
            image_codes, text_codes = self._batch_codes(batch)
            out = self.loss(image_codes, text_codes, self.labels[batch].to(self.device))
            self._check_finite(out, epoch, step + 1)
            optimizer.zero_grad(set_to_none=True)
            if loss_optimizer is not None:
                loss_optimizer.zero_grad(set_to_none=True)
            out.total.backward()
            torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], s.grad_clip)
            optimizer.step()
            schedule.step()
            if loss_optimizer is not None:
                loss_optimizer.step()
            for name, value in [("total", out.total), *out.terms.items()]:
                sums[name] = sums.get(name, 0.0) + float(value.detach())
        return {name: total / steps for name, total in sums.items()}

    def fit(self) -> dict:
        s = self.settings
        fit_indices = self.split.val_database if s.protocol == "honest" else self.split.train
        optimizers = self._optimizers(s.epochs * -(-len(fit_indices) // s.batch_size))
        rng = np.random.default_rng(s.seed)
        history, best = [], {"score": -1.0}
        per_direction_best: dict[str, tuple[int, dict, dict]] = {}
        self.model.train()
        if s.mode == "frozen":
            self.model.clip.eval()
        epochs = tqdm(range(1, s.epochs + 1), desc=f"{s.loss} {self.dataset.name} {s.n_bits} bits",
                      disable=not self.progress, unit="epoch", leave=False)
        for epoch in epochs:
            start = time.perf_counter()
            entry = {"epoch": epoch, "loss": self.train_epoch(epoch, rng.permutation(fit_indices), optimizers)}
            self.timings["train_s"] += time.perf_counter() - start
            if s.protocol == "honest":
                entry.update(self._validation_map(epoch))
                if entry["val_map"] > best["score"]:
                    best = {"score": entry["val_map"], "epoch": epoch, "state": self._trainable_state()}
                epochs.set_postfix(loss=f"{entry['loss']['total']:.4f}", val_map=f"{entry['val_map']:.4f}")
            else:
                results, codes = self._query_results(f"epoch {epoch}")
                entry["query_map"] = {d: r["map"] for d, r in results.items()}
                for d, r in results.items():
                    if d not in per_direction_best or r["map"] > per_direction_best[d][1]["map"]:
                        per_direction_best[d] = (epoch, r, codes)
            entry["seconds"] = time.perf_counter() - start
            history.append(entry)

        if s.protocol == "honest":
            self._load_trainable_state(best["state"])
            results, codes = self._query_results("final")
            selection = {"protocol": "honest", "criterion": "validation mAP, mean of i2t and t2i",
                         "epoch": best["epoch"], "val_map": best["score"]}
            codes_hash = {k: _codes_hash(v) for k, v in codes.items()}
        else:
            results = {d: r for d, (_, r, _) in per_direction_best.items()}
            selection = {"protocol": "paper", "criterion": "best query mAP per direction (optimistic)",
                         "epochs": {d: e for d, (e, _, _) in per_direction_best.items()}}
            codes_hash = {d: {k: _codes_hash(v) for k, v in c.items()} for d, (_, _, c) in per_direction_best.items()}
        return {
            "metrics": {d: {k: v for k, v in r.items() if k not in CURVE_KEYS} for d, r in results.items()},
            "curves": {d: {k: r[k] for k in CURVE_KEYS} for d, r in results.items()},
            "selection": selection,
            "history": history,
            "codes_sha256": codes_hash,
            "query_set_evaluations": sum(e["set"] == "query" for e in self.evaluations),
            "evaluations": self.evaluations,
        }


def train_and_evaluate(settings: TrainSettings, dataset: PairedDataset, split: Split, backbone_path: Path, *,
                       cache_dir: Path, progress: bool = True) -> dict:
    """Train one run and evaluate it; returns the training part of a run record (see the module docstring).

    Raises:
        TrainingDiverged: a loss term became NaN or infinite (names the epoch, step and term).
        ValueError: bad settings, loss, device or backbone.
    """
    start = time.perf_counter()
    trainer = Trainer(settings, dataset, split, backbone_path, cache_dir, progress)
    record = trainer.fit()
    record["timings"] = {**trainer.timings, "total_s": time.perf_counter() - start}
    record["settings"] = asdict(settings)
    record["data"] = {
        "dataset": dataset.name, "dataset_hash": dataset.content_hash, "split_hash": split.hash,
        "n_fit": len(split.val_database if settings.protocol == "honest" else split.train),
        "n_query": len(split.query), "n_retrieval": len(split.retrieval),
        "n_val_query": len(split.val_query), "n_val_database": len(split.val_database),
        "backbone": str(trainer.backbone.path), "backbone_hash": trainer.backbone.hash,
        "feature_cache": trainer.feature_cache,
    }
    record["environment"] = environment(trainer.device)
    return record
