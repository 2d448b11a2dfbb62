"""The training loop on a tiny synthetic set: every loss in both modes, determinism and isolation of runs,
the feature cache, divergence, and the protocols proven: what trains, when the query set is looked at, and
that the reported metrics come from the state the record says was selected."""
from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

import losses
import methods
from benchmark import data
from benchmark.config import RunSpec
from benchmark.record import DIRECTIONS
from benchmark.training import RunEnvironment, TrainingDiverged, evaluate_reference, make_trainer, train_and_evaluate
from benchmark.training.feature_sources import FEATURE_SOURCES, BackboneFeatures, FeatureSource, FrozenFeatures
from benchmark.training.protocols import SelectionProtocol, TrialProtocol
from benchmark.codes import read_codes
from benchmark.files import file_sha256
from benchmark.training.state import codes_sha256, indices_sha256, state_sha256
from benchmark.training.trainer import Trainer
from benchmark.metrics import evaluate
from losses import HashingLoss, LossOutput


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A 300-pair synthetic set, its split, and a tiny CLIP briefly pretrained on its train split."""
    cache = tmp_path_factory.mktemp("cache")
    ds = data.load("synth-nuswide", root=cache, size=300)
    split = data.load_or_create_split(ds, data.SplitSettings(query_size=30, train_size=160), cache)
    backbone = methods.pretrain_tiny_clip(cache / "backbone", ds.images[split.train],
                                          [ds.texts[i] for i in split.train], ds.vocabulary, steps=120,
                                          batch_size=64, progress=False)
    return ds, split, backbone, cache


def make_spec(loss: str = "dcgh", bits: int = 16, seed: int = 0, loss_params: dict | None = None,
              optimizer: dict | None = None, **settings) -> RunSpec:
    return RunSpec.from_dict({
        "loss": loss, "dataset": "synth-nuswide", "bits": bits, "replicate": seed, "seed": seed, "varies": ["init"],
        "loss_params": loss_params or {},
        "settings": {"epochs": 4, "batch_size": 32, **settings, "optimizer": optimizer or {}},
        "synthetic": {"size": 300}}, "the test")


def run(setup, cache_dir=None, folder=None, **options):
    ds, split, backbone, cache = setup
    return train_and_evaluate(make_spec(**options), RunEnvironment(ds, split, backbone, cache_dir or cache,
                                                                   progress=False, folder=folder))


def trainer_of(setup, **options) -> Trainer:
    ds, split, backbone, cache = setup
    return make_trainer(make_spec(**options), RunEnvironment(ds, split, backbone, cache, progress=False))


@pytest.fixture(scope="module")
def random_val_map(setup):
    """Validation mAP (mean of i2t and t2i) of random codes, averaged over draws."""
    ds, split, _, _ = setup
    rng = np.random.default_rng(0)
    maps = []
    for _ in range(10):
        q, r = rng.choice([-1, 1], (len(split.val_query), 16)), rng.choice([-1, 1], (len(split.val_database), 16))
        maps.append(evaluate(q, r, ds.labels[split.val_query], ds.labels[split.val_database])["map"])
    return float(np.mean(maps))


#: Losses whose published defaults learn too little on this tiny set for the margins below, and the parameters these
#: pipeline tests use instead: Proxy Anchor's scale alpha=32 gives nearly all the gradient to the hardest item per
#: class (a finding about the loss, not the pipeline; test_proxy_anchor_default_learns_but_less_than_a_small_scale).
PIPELINE_PARAMS = {"proxy-anchor": {"alpha": 2.0}}


@pytest.mark.parametrize("name", losses.available())
def test_frozen_run_of_every_loss_beats_random_codes(setup, random_val_map, name):
    record = run(setup, loss=name, epochs=6, optimizer={"head_lr": 5e-3}, loss_params=PIPELINE_PARAMS.get(name))
    assert set(record.metrics) == set(DIRECTIONS)
    assert record.selection.score > random_val_map + 0.05
    assert record.metrics["i2t"]["map"] > 0 and "pr_radius" in record.curves["i2t"]
    assert {"wmap", *(f"ndcg@{k}" for k in record.spec.settings.topk)} <= set(record.metrics["t2i"])
    assert [h.epoch for h in record.history] == list(range(1, 7))
    assert set(record.history[0].loss) == {"total", *losses.build(name, 21, 16).forward(
        torch.zeros(2, 16), torch.zeros(2, 16), torch.ones(2, 21)).terms}
    assert record.selection.used_selected_state, "the final evaluation did not use the selected state"


@pytest.mark.parametrize("name", losses.available())
def test_finetune_run_of_every_loss_beats_random_codes(setup, random_val_map, name):
    record = run(setup, loss=name, mode="finetune", epochs=3, optimizer={"head_lr": 5e-3, "backbone_lr": 1e-4},
                 loss_params=PIPELINE_PARAMS.get(name))
    assert record.selection.score > random_val_map + 0.02
    assert record.data["feature_cache"] is None
    assert record.selection.used_selected_state


def test_proxy_anchor_default_learns_but_less_than_a_small_scale(setup):
    """At 64 bits, the published alpha=32 ends above random codes (measured 0.359 against 0.334) but well below
    alpha=2 (0.472): the default learns in the default pipeline, slowly on a set this small (docs/losses.md)."""
    ds, split, _, _ = setup
    rng = np.random.default_rng(0)
    random_map = np.mean([evaluate(rng.choice([-1, 1], (len(split.val_query), 64)),
                                   rng.choice([-1, 1], (len(split.val_database), 64)),
                                   ds.labels[split.val_query], ds.labels[split.val_database])["map"]
                          for _ in range(10)])
    published = run(setup, loss="proxy-anchor", bits=64, epochs=6, optimizer={"head_lr": 5e-3})
    small = run(setup, loss="proxy-anchor", bits=64, epochs=6, optimizer={"head_lr": 5e-3}, loss_params={"alpha": 2.0})
    assert random_map + 0.01 < published.selection.score < small.selection.score - 0.05


@pytest.mark.parametrize("name", ["dcgh", "dpn", "dcmh"])
def test_the_trainer_passes_each_loss_the_output_it_consumes(setup, name, monkeypatch):
    """Training asks the heads for what the loss declares (tanh codes or the unbounded outputs); the binary codes of
    evaluation are the sign of the same outputs either way."""
    asked, forward = [], methods.encoder.HashHead.forward

    def spy(head, features, output="codes"):
        asked.append(output)
        return forward(head, features, output)

    monkeypatch.setattr(methods.encoder.HashHead, "forward", spy)
    trainer = trainer_of(setup, loss=name, epochs=1)
    trainer.train_epoch(1, np.arange(64), trainer._optimizers(2))
    assert asked and set(asked) == {trainer.loss.consumes}
    assert trainer.loss.consumes == ("codes" if name == "dcgh" else "logits")


@pytest.mark.parametrize("name", ["proxy", "proxy-anchor"])
def test_learned_proxies_follow_the_heads_schedule_at_their_own_rate(setup, name):
    """The loss's own optimizer (learned proxies) warms up and decays by the same cosine as the heads; only its base
    learning rate is its own."""
    trainer = trainer_of(setup, loss=name, epochs=1)
    optimizer, schedule, loss_optimizer, loss_schedule = trainer._optimizers(20)
    head_base, proxy_base = optimizer.param_groups[0]["lr"] / schedule.lr_lambdas[0](0), trainer.loss \
        .optimizer_settings.lr
    factors = []
    for _ in range(20):
        factors.append((optimizer.param_groups[0]["lr"] / head_base, loss_optimizer.param_groups[0]["lr"] / proxy_base))
        optimizer.step(), schedule.step(), loss_optimizer.step(), loss_schedule.step()
    heads, proxies = np.array(factors).T
    assert np.allclose(heads, proxies) and proxies[0] < proxies[2] and proxies[2] == pytest.approx(1.0)
    assert proxies[-1] < 0.02  # annealed to (almost) 0 at the last step, as the heads are


def test_same_seed_gives_identical_codes_and_metrics(setup):
    a, b = run(setup, loss="dcgh"), run(setup, loss="dcgh")
    c = run(setup, loss="dcgh", seed=1)
    assert a.codes_sha256 == b.codes_sha256 and a.metrics == b.metrics
    assert a.history[-1].loss == b.history[-1].loss
    assert a.codes_sha256 != c.codes_sha256


def test_finetune_is_reproducible_too(setup):
    a = run(setup, loss="proxy", mode="finetune", epochs=1)
    b = run(setup, loss="proxy", mode="finetune", epochs=1)
    assert a.codes_sha256 == b.codes_sha256 and a.metrics == b.metrics


def test_runs_draw_nothing_from_the_global_random_state(setup):
    """Batch order, head initialisation, dropout, proxies and centers all come from generators seeded by the
    run: the global states are untouched, and disturbing them between two runs changes nothing."""
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    first = run(setup, loss="proxy", mode="finetune", epochs=1)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state(), numpy_state))
    torch.rand(1000), np.random.rand(1000), torch.manual_seed(12345)
    run(setup, loss="center", epochs=1)  # another run in between shares nothing with the next one
    second = run(setup, loss="proxy", mode="finetune", epochs=1)
    assert first.codes_sha256 == second.codes_sha256 and first.metrics == second.metrics


def test_feature_cache_is_reused_and_keyed_by_backbone_and_data(setup, tmp_path, monkeypatch):
    ds, split, backbone, _ = setup
    first = run(setup, cache_dir=tmp_path, loss="pairwise", epochs=1)
    assert first.data["feature_cache"]["reused"] is False

    def no_encoding(*args, **kwargs):
        raise AssertionError("features were recomputed")

    monkeypatch.setattr("benchmark.training.feature_sources.encode_features", no_encoding)
    second = run(setup, cache_dir=tmp_path, loss="triplet", bits=32, epochs=1)
    assert second.data["feature_cache"] == {**first.data["feature_cache"], "reused": True}
    monkeypatch.undo()

    other_backbone = methods.pretrain_tiny_clip(tmp_path / "other", ds.images[:64], ds.texts[:64], ds.vocabulary,
                                                steps=2, batch_size=32, progress=False)
    other_data = data.load("synth-nuswide", root=tmp_path, size=300, seed=5)
    other_split = data.load_or_create_split(other_data, split.settings, tmp_path)
    paths = {first.data["feature_cache"]["path"]}
    for dataset, s, bb in ((ds, split, other_backbone), (other_data, other_split, backbone)):
        record = train_and_evaluate(make_spec(loss="pairwise", epochs=1),
                                    RunEnvironment(dataset, s, bb, tmp_path, progress=False))
        assert record.data["feature_cache"]["reused"] is False
        paths.add(record.data["feature_cache"]["path"])
    assert len(paths) == 3


# ------------------------------------------------------------------------------------ the protocols proven


@pytest.fixture
def trained_batches(monkeypatch):
    """Every index that reaches a training batch, in either mode."""
    seen: list[np.ndarray] = []
    for source in (FrozenFeatures, BackboneFeatures):
        original = source.batches

        def spy(self, model, batches, original=original):
            for indices, image, text in original(self, model, batches):
                seen.append(np.array(indices))
                yield indices, image, text

        monkeypatch.setattr(source, "batches", spy)
    return seen


@pytest.mark.parametrize("mode", ["frozen", "finetune"])
def test_honest_training_never_sees_a_validation_or_query_item(setup, trained_batches, mode):
    ds, split, _, _ = setup
    record = run(setup, loss="proxy", mode=mode, epochs=2)
    trained = np.unique(np.concatenate(trained_batches))
    assert not set(trained) & set(split.val_query) and not set(trained) & set(split.query)
    assert set(trained) == set(split.val_database)
    # the record says the same, in the words of the code that trained
    assert record.training.part == "val_database" and record.training.n_indices == len(split.val_database)
    assert record.training.indices_sha256 == indices_sha256(split.val_database)
    assert record.training.steps == 2 * -(-len(split.val_database) // 32)


def test_paper_protocol_trains_on_the_whole_train_set(setup, trained_batches):
    ds, split, _, _ = setup
    record = run(setup, loss="proxy", protocol="paper", epochs=2)
    assert set(np.concatenate(trained_batches)) == set(split.train)
    assert record.training.n_indices == len(split.train) == 160
    assert record.training.indices_sha256 == indices_sha256(split.train)


def test_honest_protocol_looks_at_the_query_set_once_after_selection(setup):
    record = run(setup, loss="proxy", epochs=5)
    log = record.evaluations
    query = [i for i, e in enumerate(log) if e["set"] == "query"]
    validation = [i for i, e in enumerate(log) if e["set"] == "validation"]
    assert sorted(log[i]["direction"] for i in query) == sorted(DIRECTIONS)  # each direction exactly once
    assert all(log[i]["stage"] == "final" for i in query) and max(validation) < min(query)
    assert len(validation) == 10  # I->T and T->I after each of 5 epochs
    best = max(record.history, key=lambda h: h.val_map)
    selection = record.selection
    assert (selection.protocol, selection.source) == ("honest", "validation")
    assert selection.epochs == {d: best.epoch for d in DIRECTIONS} and selection.score == best.val_map


def script_validation(trainer: Trainer, monkeypatch, scores: list[float]) -> dict[int, dict]:
    """Make validation mAP follow ``scores`` (one per epoch) and keep a snapshot of the state at each epoch."""
    snapshots: dict[int, dict] = {}
    original = trainer.evaluate

    def scripted(stage, set_name, *args, **kwargs):
        evaluation = original(stage, set_name, *args, **kwargs)
        if set_name == "validation":
            epoch = int(stage.split()[1])
            snapshots[epoch] = trainer.snapshot()
            for result in evaluation.results.values():
                result["map"] = scores[epoch - 1]
        return evaluation

    monkeypatch.setattr(trainer, "evaluate", scripted)
    return snapshots


@pytest.mark.parametrize("mode", ["frozen", "finetune"])
def test_final_metrics_are_those_of_the_selected_state(setup, monkeypatch, mode):
    """Validation scores are scripted so that epoch 2 of 4 is selected; re-scoring the epoch-2 state must give
    exactly the reported metrics, and the record's state fingerprints must say that state was used."""
    ds, split, _, _ = setup
    trainer = trainer_of(setup, loss="dcgh", mode=mode, epochs=4, optimizer={"head_lr": 5e-3, "backbone_lr": 1e-4})
    snapshots = script_validation(trainer, monkeypatch, [0.1, 0.9, 0.2, 0.3])
    history, outcome = trainer.fit()
    assert outcome.selection.epochs == {d: 2 for d in DIRECTIONS}
    assert state_sha256(snapshots[2]) != state_sha256(snapshots[4]), "the state must change after epoch 2"
    assert outcome.selection.selected_state_sha256 == {d: state_sha256(snapshots[2]) for d in DIRECTIONS}
    assert outcome.selection.used_selected_state
    trainer.restore(snapshots[2])
    again = trainer.evaluate("re-score", "query", split.query, split.retrieval, DIRECTIONS, full=True)
    assert again.results == outcome.results
    assert outcome.codes_sha256 == {name: codes_sha256(codes) for name, codes in again.codes.items()}


def snapshots_by_epoch(trainer, monkeypatch) -> dict[int, dict]:
    """The trainable state at each epoch's evaluation, filled in as ``trainer`` fits."""
    snapshots: dict[int, dict] = {}
    original = trainer.evaluate

    def keep_states(stage, set_name, *args, **kwargs):
        if stage.startswith("epoch "):
            snapshots[int(stage.split()[1])] = trainer.snapshot()
        return original(stage, set_name, *args, **kwargs)

    monkeypatch.setattr(trainer, "evaluate", keep_states)
    return snapshots


def test_paper_selection_per_direction_is_what_the_record_says(setup, monkeypatch):
    ds, split, _, _ = setup
    trainer = trainer_of(setup, loss="proxy", protocol="paper", epochs=4, optimizer={"head_lr": 5e-3})
    snapshots = snapshots_by_epoch(trainer, monkeypatch)
    history, outcome = trainer.fit()
    assert len(trainer.evaluations) == 4 * len(DIRECTIONS)  # the query set after every epoch
    selection = outcome.selection
    assert (selection.protocol, selection.source, selection.score) == ("paper", "query", None)
    for direction, epoch in selection.epochs.items():
        maps = [h.query_map[direction] for h in history]
        assert outcome.results[direction]["map"] == max(maps) and maps[epoch - 1] == max(maps)
        assert maps.index(max(maps)) == epoch - 1  # the first epoch reaching the best, as the record says
        assert selection.selected_state_sha256[direction] == state_sha256(snapshots[epoch])
        trainer.restore(snapshots[epoch])
        again = trainer.evaluate("re-score", "query", split.query, split.retrieval, (direction,), full=True)
        assert again.results[direction] == outcome.results[direction]


def test_the_paper_sum_selection_keeps_one_epoch_the_best_sum_of_both_directions(setup, monkeypatch):
    """MITH's rule: one epoch for every direction, the first of the best query-set I->T + T->I; its metrics, codes and
    state are that epoch's."""
    ds, split, _, _ = setup
    trainer = trainer_of(setup, loss="proxy", protocol="paper-sum", epochs=4, optimizer={"head_lr": 5e-3})
    snapshots = snapshots_by_epoch(trainer, monkeypatch)
    history, outcome = trainer.fit()
    assert len(trainer.evaluations) == 4 * len(DIRECTIONS)
    sums = [h.query_map["i2t"] + h.query_map["t2i"] for h in history]
    best = sums.index(max(sums)) + 1
    selection = outcome.selection
    assert (selection.protocol, selection.source, selection.score) == ("paper-sum", "query", max(sums))
    assert selection.epochs == {d: best for d in DIRECTIONS}
    assert {selection.selected_state_sha256[d] for d in DIRECTIONS} == {state_sha256(snapshots[best])}
    trainer.restore(snapshots[best])
    again = trainer.evaluate("re-score", "query", split.query, split.retrieval, DIRECTIONS, full=True)
    assert again.results == outcome.results
    assert outcome.codes_sha256 == {d: {name: codes_sha256(c) for name, c in again.codes.items()} for d in DIRECTIONS}


# ------------------------------------------------------------------------------------------- failures


class NaNAtThirdStep(HashingLoss):
    """A loss that becomes NaN at its third call."""

    def __init__(self, n_classes: int, n_bits: int):
        super().__init__(n_classes, n_bits)
        self.calls = 0

    def forward(self, img, txt, labels):
        self.calls += 1
        value = (img - txt).pow(2).mean()
        return LossOutput.from_terms({"align": value, "broken": value * (float("nan") if self.calls == 3 else 0)})


def test_eval_every_evaluates_every_nth_epoch_and_the_last_and_selects_among_them(setup, monkeypatch):
    """With eval_every=2 over 5 epochs, validation runs after epochs 2, 4 and 5 only; scripted scores make the
    never-evaluated epochs 1 and 3 the best, so the honest selection is epoch 4, the best evaluated one. The paper
    protocol looks at the query set after the same epochs and picks among them."""
    trainer = trainer_of(setup, loss="dcgh", epochs=5, eval_every=2, optimizer={"head_lr": 5e-3})
    snapshots = script_validation(trainer, monkeypatch, [0.9, 0.1, 0.95, 0.5, 0.2])
    history, outcome = trainer.fit()
    assert [h.epoch for h in history if h.val_map is not None] == [2, 4, 5] == sorted(snapshots)
    # stored as the trainer always wrote them: these keys, in this order (records stay byte-identical)
    assert [list(h.to_dict()) for h in history[:2]] == [["epoch", "loss", "seconds"],
                                                        ["epoch", "loss", "val_map_i2t", "val_map_t2i", "val_map",
                                                         "seconds"]]
    assert {e["stage"] for e in trainer.evaluations} == {"epoch 2", "epoch 4", "epoch 5", "final"}
    assert outcome.selection.epochs == {d: 4 for d in DIRECTIONS} and outcome.selection.score == 0.5
    assert outcome.selection.selected_state_sha256 == {d: state_sha256(snapshots[4]) for d in DIRECTIONS}
    assert outcome.selection.used_selected_state

    paper = trainer_of(setup, loss="dcgh", protocol="paper", epochs=5, eval_every=2)
    history, outcome = paper.fit()
    assert [h.epoch for h in history if h.query_map is not None] == [2, 4, 5]
    assert list(history[1].to_dict()) == ["epoch", "loss", "query_map", "seconds"]
    assert len(paper.evaluations) == 3 * len(DIRECTIONS)
    for direction, epoch in outcome.selection.epochs.items():
        maps = {h.epoch: h.query_map[direction] for h in history if h.query_map is not None}
        assert epoch == max(maps, key=maps.get) and outcome.results[direction]["map"] == maps[epoch]


def test_a_nan_loss_stops_the_run_naming_epoch_step_and_term(setup):
    with pytest.raises(TrainingDiverged, match=r"diverged at epoch 1, step 3: term 'broken' is nan"):
        run(setup, loss=f"{__name__}:NaNAtThirdStep")


def test_record_reports_timings_environment_and_data(setup):
    record = run(setup, loss="center", epochs=1)
    assert set(record.timings) == {"encode_s", "train_s", "eval_s", "keep_s", "total_s"}
    assert record.environment["torch"] == torch.__version__ and record.environment["device"] == "cpu"
    ds, split, _, _ = setup
    assert record.data["split_hash"] == split.hash and record.data["dataset_hash"] == ds.content_hash
    assert record.spec.loss == "center" and record.spec.bits == 16
    assert record.run_id == record.spec.run_id


# ------------------------------------------------------------------------------------------- typed seams


def test_both_entry_points_take_the_spec_and_one_run_environment(setup, tmp_path):
    for entry in (train_and_evaluate, evaluate_reference):
        assert list(inspect.signature(entry).parameters) == ["spec", "environment"]
    ds, split, backbone, cache = setup
    record = evaluate_reference(make_spec(loss="ref:lsh"), RunEnvironment(ds, split, backbone, cache, progress=False,
                                                                          folder=tmp_path))
    assert record.history == [] and set(record.files) == {"codes.npz"}  # kept in the environment's folder


@pytest.mark.parametrize("mode", sorted(FEATURE_SOURCES))
def test_the_feature_sources_and_protocols_are_what_the_trainer_is_typed_with(setup, mode):
    trainer = trainer_of(setup, mode=mode, epochs=1)
    assert isinstance(trainer.features, FeatureSource) and isinstance(trainer.protocol, SelectionProtocol)
    paper, trial = trainer_of(setup, mode=mode, protocol="paper").protocol, TrialProtocol(setup[1])
    assert isinstance(paper, SelectionProtocol) and isinstance(trial, SelectionProtocol)
    assert not isinstance(trainer.protocol, FeatureSource) and not isinstance(trainer.features, SelectionProtocol)


@pytest.mark.parametrize("mode", sorted(FEATURE_SOURCES))
def test_heads_train_with_dropout_and_evaluate_without_and_a_frozen_backbone_never_trains(setup, mode):
    """Training switches the heads (dropout on) and, fine-tuned, the backbone; evaluating switches them off, and
    leaves the model training again afterwards: two evaluations of one state give the same outputs."""
    trainer = trainer_of(setup, mode=mode, epochs=1)
    model, items = trainer.model, setup[1].query[:16]
    heads = [m for head in model.heads() for m in head.modules()]
    model.train()  # everything training, the backbone too: a frozen source puts it back in evaluation mode
    for training in (True, False, True):
        trainer.features.set_mode(model, training)
        assert all(m.training == training for m in heads) and model.training == training
        assert all(m.training == (training and mode == "finetune") for m in model.clip.modules())
    first, second = trainer.outputs(items), trainer.outputs(items)
    assert all(np.array_equal(first[k], second[k]) for k in first)
    assert all(m.training for m in heads)


# ------------------------------------------------------------------------------------------- kept codes


@pytest.mark.parametrize("protocol", ["honest", "paper"])
def test_a_run_keeps_codes_whose_hashes_and_map_are_the_records(setup, tmp_path, protocol):
    ds, split, _, _ = setup
    record = run(setup, folder=tmp_path, loss="proxy", epochs=3, protocol=protocol)
    assert set(record.files) == {"codes.npz", "continuous.npz", "state.npz"}  # a synthetic set keeps its outputs
    assert all(file_sha256(tmp_path / name) == digest for name, digest in record.files.items())
    codes, labels = read_codes(tmp_path)
    hashes = record.codes_sha256 if protocol == "honest" else record.codes_sha256["i2t"]  # paper: the I->T state
    assert {name: codes_sha256(value) for name, value in codes.items()} == hashes
    assert np.array_equal(labels["query_labels"], ds.labels[split.query])
    assert np.array_equal(labels["retrieval_labels"], ds.labels[split.retrieval])
    again = evaluate(codes["query_image"], codes["retrieval_text"], labels["query_labels"], labels["retrieval_labels"],
                     topk=(50,))
    assert again["map"] == record.metrics["i2t"]["map"]
    with np.load(tmp_path / "state.npz") as state:
        assert {"image_head.linear.weight", "text_head.linear.bias", "loss.proxies"} <= set(state.files)
    assert record.diagnostics["multi_label_items"] > 0 and set(record.diagnostics["quantization_gap"]) == {"i2t", "t2i"}


def test_diagnose_recomputes_what_the_run_stored(setup, tmp_path):
    from benchmark.diagnose import diagnose
    from benchmark.store import RunStore

    store = RunStore(tmp_path)
    spec = make_spec(loss="dcgh", epochs=2)
    record = run(setup, folder=store.folder(spec.run_id), loss="dcgh", epochs=2)
    store.write_record(record)
    outcome = diagnose(tmp_path)
    assert outcome.updated == [record.run_id] and not outcome.skipped
    again = store.read_record(record.run_id).diagnostics
    gap, stored_gap = again.pop("quantization_gap"), dict(record.diagnostics)
    assert again == {k: v for k, v in stored_gap.items() if k != "quantization_gap"}
    # the continuous outputs are kept as float16: the recomputed gap is within rounding of the run's
    assert gap == pytest.approx(stored_gap["quantization_gap"], abs=5e-3)
    (store.folder(record.run_id) / "codes.npz").write_bytes(b"damaged")
    (reason,) = diagnose(tmp_path).skipped
    assert "is not the file its record describes" in reason
