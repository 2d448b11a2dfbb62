"""Evaluating the reference rows (``benchmark.references``) on a run's split, data and backbone: random codes,
LSH of the backbone's features, the features themselves ranked by cosine, and (synthetic sets) the classes each
modality shows ranked by cosine. Nothing is trained."""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np

from ..backbones import open_backbone
from ..config import RunSpec
from ..continuous import cosine_ranking_metrics
from ..data import PairedDataset
from ..device import Precision, resolve_device
from ..files import read_json_cache, write_json_cache
from ..metrics import evaluate
from ..record import DIRECTION_MODALITIES, DIRECTIONS, RunRecord
from ..threads import plan_loader_workers, torch_threads
from .feature_sources import FrozenFeatures
from .assemble import code_diagnostics, kept_files, run_record
from .run_environment import RunEnvironment
from .state import codes_sha256
from .trainer import scored_items


#: Part of the key of the cached metrics of the cosine rows: raised when ``cosine_ranking_metrics`` computes more
#: (2: the graded metrics), so that a cache written before is not read as if it had them.
COSINE_METRICS_VERSION = 2


def reference_codes(name: str, features: dict[str, np.ndarray], bits: int, seed: int) -> dict[str, np.ndarray]:
    """+-1 int8 codes of every item per modality: independent random draws (``ref:random``), or the sign of one
    Gaussian projection of the features shared by both modalities (``ref:lsh``), from ``seed``."""
    rng = np.random.default_rng(seed)
    if name == "ref:random":
        return {m: rng.choice(np.array([-1, 1], np.int8), size=(len(x), bits)) for m, x in features.items()}
    projection = rng.standard_normal((features["image"].shape[1], bits))
    return {m: np.where(x @ projection >= 0, 1, -1).astype(np.int8) for m, x in features.items()}


def visible_labels(dataset: PairedDataset) -> dict[str, np.ndarray]:
    """The classes each modality of a synthetic set shows, as 0/1 rows per modality (what ``ref:oracle`` ranks)."""
    if dataset.visible is None:
        raise ValueError(f"ref:oracle needs a synthetic set (it ranks the classes each modality shows); {dataset.name} "
                         "has no such record")
    return {modality: np.asarray(shown, np.float64) for modality, shown in dataset.visible.items()}


def _cosine_rows(spec: RunSpec, dataset: PairedDataset, split, by_modality: dict, feature_cache, cache_dir) -> dict:
    """The metrics of a row ranked by cosine (``ref:continuous``, ``ref:oracle``): they do not depend on the code
    length, so the first of a replicate's code lengths computes them and the others read them from the cache
    (``<cache>/references/``, keyed by the row, the features file, the split, the metrics asked for and the version
    of the metrics computed: ``COSINE_METRICS_VERSION``)."""
    key = hashlib.sha256(json.dumps([spec.loss, feature_cache.path if feature_cache else None, dataset.content_hash,
                                     split.hash, list(spec.settings.topk), COSINE_METRICS_VERSION]).encode()
                         ).hexdigest()[:20]
    path = Path(cache_dir) / "references" / f"{spec.loss.replace(':', '_')}-{key}.json"
    cached = read_json_cache(path, "cached reference metrics")  # a damaged file: set aside, computed again
    if cached is not None:
        return cached
    ranked = by_modality if spec.loss == "ref:continuous" else visible_labels(dataset)
    labels, query, retrieval = dataset.labels, split.query, split.retrieval
    results = {}
    for direction in DIRECTIONS:
        source, target = DIRECTION_MODALITIES[direction]
        results[direction] = cosine_ranking_metrics(ranked[source][query], ranked[target][retrieval], labels[query],
                                                    labels[retrieval], topk=spec.settings.topk)
    write_json_cache(path, results)
    return results


def evaluate_reference(spec: RunSpec, environment: RunEnvironment) -> RunRecord:
    """The record of the reference row ``spec.loss`` on the query set of the environment's split, with the
    backbone's (cached) features of its dataset (built by its loader workers, should they be missing). Nothing
    trains, so its ``threads``, ``tensorboard`` and ``save_continuous`` do not apply; its codes (LSH and random
    rows) are kept in its ``folder``."""
    env, start = environment, time.perf_counter()
    dataset, split = env.dataset, env.split
    torch_device = resolve_device(env.device)
    backbone = open_backbone(env.backbone_path)
    with torch_threads(1):  # the features are cached by then (benchmark.execution prepares them)
        features = FrozenFeatures.open(dataset, backbone, env.cache_dir, spec.settings, torch_device,
                                       Precision(torch_device), env.progress,
                                       plan_loader_workers(env.loader_workers, torch_device))
    by_modality = {"image": features.image.cpu().numpy(), "text": features.text.cpu().numpy()}
    query, retrieval, labels = split.query, split.retrieval, dataset.labels
    results, codes_hashes, diagnostics, files, timings = {}, {}, None, {}, {}
    if spec.loss in ("ref:continuous", "ref:oracle"):
        results = _cosine_rows(spec, dataset, split, by_modality, features.cache, env.cache_dir)
    else:
        codes = reference_codes(spec.loss, by_modality, spec.bits, spec.seed)
        for direction in DIRECTIONS:
            source, target = DIRECTION_MODALITIES[direction]
            results[direction] = evaluate(codes[source][query], codes[target][retrieval], labels[query],
                                          labels[retrieval], topk=spec.settings.topk)
        kept = {f"{part}_{m}": codes[m][indices] for part, indices in (("query", query), ("retrieval", retrieval))
                for m in ("image", "text")}
        keeping = time.perf_counter()
        codes_hashes = {name: codes_sha256(value) for name, value in kept.items()}
        diagnostics = code_diagnostics(dataset, split, kept)
        files = kept_files(env.folder, dataset, split, kept)
        timings["keep_s"] = time.perf_counter() - keeping
    return run_record(spec, results, selection=None, training=None, history=[],
                      evaluations=[{"stage": "final", "set": "query", "direction": d, **scored_items(query, retrieval)}
                                   for d in DIRECTIONS],
                      codes_sha256=codes_hashes, dataset=dataset, split=split, backbone=backbone,
                      feature_cache=features.cache, timings={**timings, "total_s": time.perf_counter() - start},
                      device=torch_device, diagnostics=diagnostics, files=files)
