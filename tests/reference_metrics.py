"""Slow, obviously correct retrieval metrics: the oracles of ``benchmark.metrics``.

Everything is plain Python over one query at a time: Hamming distances by counting differing bits, an
explicit sort per query, precision and recall read off the ranked list. Tie-aware values come from
enumerating every order of the tied items.
"""
from __future__ import annotations

import itertools
import math

import numpy as np


def bits(codes) -> list[list[int]]:
    """Codes as 0/1 bit lists: +1 (x >= 0) is 1; {0, 1} codes are taken as they are."""
    array = np.asarray(codes, dtype=float)
    if np.isin(array, (0, 1)).all():
        return array.astype(int).tolist()
    return (array >= 0).astype(int).tolist()


def hamming(a: list[int], b: list[int]) -> int:
    return sum(1 for x, y in zip(a, b) if x != y)


def is_relevant(a_labels, b_labels) -> bool:
    return any(x > 0 and y > 0 for x, y in zip(a_labels, b_labels))


def distances_and_relevance(q_bits, r_bits, q_labels, r_labels):
    """Per retrieval item: (distance, relevant) for one query."""
    return [(hamming(q_bits, rb), is_relevant(q_labels, rl)) for rb, rl in zip(r_bits, r_labels)]


def ranked_relevance(items, ties: str = "index") -> list[bool]:
    """Relevance in ranked order: by distance, then retrieval index (``index``), relevant first (``best``)
    or relevant last (``worst``) inside a tie."""
    tie_key = {"index": lambda i: 0, "best": lambda i: not items[i][1], "worst": lambda i: items[i][1]}[ties]
    order = sorted(range(len(items)), key=lambda i: (items[i][0], tie_key(i), i))
    return [items[i][1] for i in order]


def average_precision(ranked: list[bool], k: int | None = None) -> float:
    """Mean precision at the rank of each relevant item among the first k (all when k is None),
    divided by the number of relevant items among those k; 0 when there is none."""
    ranked = ranked if k is None else ranked[:k]
    hits, precisions = 0, []
    for rank, relevant in enumerate(ranked, start=1):
        if relevant:
            hits += 1
            precisions.append(hits / rank)
    return sum(precisions) / len(precisions) if precisions else 0.0


def all_tie_orders(items):
    """Every ranking consistent with the distances: the product of the permutations of each tie."""
    buckets = {}
    for distance, relevant in items:
        buckets.setdefault(distance, []).append(relevant)
    per_bucket = [list(itertools.permutations(buckets[d])) for d in sorted(buckets)]
    for combination in itertools.product(*per_bucket):
        yield [relevant for bucket in combination for relevant in bucket]


def number_of_tie_orders(items) -> int:
    counts = {}
    for distance, _ in items:
        counts[distance] = counts.get(distance, 0) + 1
    return math.prod(math.factorial(c) for c in counts.values())


def per_query_items(q_codes, r_codes, q_labels, r_labels):
    q_bits, r_bits = bits(q_codes), bits(r_codes)
    q_labels, r_labels = np.asarray(q_labels).tolist(), np.asarray(r_labels).tolist()
    return [distances_and_relevance(qb, r_bits, ql, r_labels) for qb, ql in zip(q_bits, q_labels)]


def reference_metrics(q_codes, r_codes, q_labels, r_labels, topk=(), grid=(), enumerate_ties=False) -> dict:
    """The metrics of ``benchmark.metrics.evaluate`` for small inputs, one query at a time."""
    queries = per_query_items(q_codes, r_codes, q_labels, r_labels)
    n_bits = len(bits(q_codes)[0])
    out = {"map": np.mean([average_precision(ranked_relevance(items)) for items in queries])}
    out["map_best"] = np.mean([average_precision(ranked_relevance(items, "best")) for items in queries])
    out["map_worst"] = np.mean([average_precision(ranked_relevance(items, "worst")) for items in queries])
    for k in topk:
        out[f"map@{k}"] = np.mean([average_precision(ranked_relevance(items), k) for items in queries])
    if enumerate_ties:
        expected, best, worst = [], [], []
        for items in queries:
            aps = [average_precision(order) for order in all_tie_orders(items)]
            expected.append(sum(aps) / len(aps))
            best.append(max(aps))
            worst.append(min(aps))
        out["enumerated_tie_aware"] = np.mean(expected)
        out["enumerated_best"] = np.mean(best)
        out["enumerated_worst"] = np.mean(worst)
    precision, recall = [], []
    for n in grid:
        precision.append(np.mean([sum(ranked_relevance(items)[:n]) / n for items in queries]))
        recall.append(np.mean([sum(ranked_relevance(items)[:n]) / max(1, sum(r for _, r in items))
                               for items in queries]))
    out["precision@N"], out["recall@N"] = precision, recall
    pr_precision, pr_recall = [], []
    total_relevant = sum(r for items in queries for _, r in items)
    for radius in range(n_bits + 1):
        within = [(d, r) for items in queries for d, r in items if d <= radius]
        hits = sum(r for _, r in within)
        pr_precision.append(hits / len(within) if within else None)  # nothing retrieved: undefined
        pr_recall.append(hits / total_relevant if total_relevant else 0.0)
    out["pr_precision"], out["pr_recall"] = pr_precision, pr_recall
    return out


def monte_carlo_tie_aware(q_codes, r_codes, q_labels, r_labels, draws: int, seed: int = 0) -> tuple[float, float]:
    """Mean AP over random tie orders (shuffle, then a stable sort by distance), and its standard error."""
    rng = np.random.default_rng(seed)
    queries = per_query_items(q_codes, r_codes, q_labels, r_labels)
    samples = []
    for _ in range(draws):
        aps = []
        for items in queries:
            shuffled = [items[i] for i in rng.permutation(len(items))]
            aps.append(average_precision([r for _, r in sorted(shuffled, key=lambda item: item[0])]))
        samples.append(np.mean(aps))
    return float(np.mean(samples)), float(np.std(samples) / np.sqrt(draws))


def per_query_stable_sort_map(q_codes, r_codes, q_labels, r_labels) -> float:
    """The per-query loop of the field's published evaluation code (vectorised inside a query): Hamming
    distances by inner product, a stable argsort, AP from the ranked relevance. The speed baseline."""
    q_codes, r_codes = np.asarray(q_codes, np.float64), np.asarray(r_codes, np.float64)
    q_labels, r_labels = np.asarray(q_labels, np.float64), np.asarray(r_labels, np.float64)
    n_bits = q_codes.shape[1]
    aps = []
    for code, labels in zip(q_codes, q_labels):
        relevant = (r_labels @ labels) > 0
        n_relevant = int(relevant.sum())
        if n_relevant == 0:
            aps.append(0.0)
            continue
        distance = 0.5 * (n_bits - r_codes @ code)
        ranked = relevant[np.argsort(distance, kind="stable")]
        ranks = np.flatnonzero(ranked) + 1.0
        aps.append(float(np.mean(np.arange(1, n_relevant + 1) / ranks)))
    return float(np.mean(aps))


def cosine_order(q, retrieval_rows) -> list[int]:
    """The retrieval indices by decreasing cosine with ``q`` (0 when either row is all zeros), ties by index."""
    scores = []
    for r in retrieval_rows:
        norm = math.sqrt(sum(x * x for x in q)) * math.sqrt(sum(x * x for x in r))
        scores.append(sum(a * b for a, b in zip(q, r)) / norm if norm else 0.0)
    return sorted(range(len(scores)), key=lambda j: (-scores[j], j))


def cosine_map(query_rows, retrieval_rows, query_labels, retrieval_labels) -> float:
    """Mean average precision, one query at a time: items ranked by decreasing cosine (0 for an empty row), ties
    by index; relevant when sharing a label; a query with nothing relevant scores 0."""
    aps = []
    for q, ql in zip(query_rows, query_labels):
        order = cosine_order(q, retrieval_rows)
        hits, total = 0, 0.0
        for rank, j in enumerate(order, start=1):
            if any(a and b for a, b in zip(ql, retrieval_labels[j])):
                hits += 1
                total += hits / rank
        aps.append(total / hits if hits else 0.0)
    return sum(aps) / len(aps)


# ------------------------------------------------------------------------------------------- graded relevance


def shared_labels(a_labels, b_labels) -> int:
    """Graded relevance: how many labels (> 0) both have."""
    return sum(1 for x, y in zip(a_labels, b_labels) if x > 0 and y > 0)


def ranked_shared_labels(q_bits, r_bits, q_labels, r_labels) -> list[int]:
    """One query's shared-label counts in ranked order: by Hamming distance, then retrieval index."""
    items = [(hamming(q_bits, rb), j, shared_labels(q_labels, rl)) for j, (rb, rl) in enumerate(zip(r_bits, r_labels))]
    return [grade for _, _, grade in sorted(items)]


def cumulative_gain(ranked: list[int], k: int) -> float:
    """ACG@k: the mean relevance of the first k items (k above the list's length counts as its length)."""
    k = min(k, len(ranked))
    return sum(ranked[:k]) / k


def discounted_gain(ranked: list[int], k: int) -> float:
    """DCG@k = sum over the first k ranks i of (2^r - 1) / log2(i + 1)."""
    total = 0.0
    for i, grade in enumerate(ranked[:k], start=1):
        total += (2 ** grade - 1) / math.log2(i + 1)
    return total


def normalized_discounted_gain(ranked: list[int], k: int) -> float:
    """NDCG@k: DCG@k over the DCG@k of the same items sorted by decreasing relevance; 0 when that is 0."""
    ideal = discounted_gain(sorted(ranked, reverse=True), k)
    return discounted_gain(ranked, k) / ideal if ideal > 0 else 0.0


def weighted_average_precision(ranked: list[int], k: int | None = None) -> float:
    """WAP@k (Zhao et al., CVPR 2015): over the items with relevance > 0 among the first k (all when None), the mean
    of ACG at their rank; 0 when there is none."""
    ranked = ranked if k is None else ranked[:k]
    acgs = []
    for rank, grade in enumerate(ranked, start=1):
        if grade > 0:
            acgs.append(sum(ranked[:rank]) / rank)
    return sum(acgs) / len(acgs) if acgs else 0.0


def graded_from_rankings(rankings: list[list[int]], topk=()) -> dict:
    """The graded metrics, means over queries, of each query's shared-label counts in ranked order."""
    out = {"wmap": float(np.mean([weighted_average_precision(ranked) for ranked in rankings]))}
    for k in topk:
        out[f"ndcg@{k}"] = float(np.mean([normalized_discounted_gain(ranked, k) for ranked in rankings]))
        out[f"acg@{k}"] = float(np.mean([cumulative_gain(ranked, k) for ranked in rankings]))
        out[f"wmap@{k}"] = float(np.mean([weighted_average_precision(ranked, k) for ranked in rankings]))
    return out


def reference_graded_metrics(q_codes, r_codes, q_labels, r_labels, topk=()) -> dict:
    """``wmap``, ``ndcg@K``, ``acg@K``, ``wmap@K`` of ``benchmark.metrics.evaluate``, one query at a time."""
    q_bits, r_bits = bits(q_codes), bits(r_codes)
    q_labels, r_labels = np.asarray(q_labels).tolist(), np.asarray(r_labels).tolist()
    return graded_from_rankings([ranked_shared_labels(qb, r_bits, ql, r_labels) for qb, ql in zip(q_bits, q_labels)],
                                topk)


def cosine_graded_metrics(query_rows, retrieval_rows, query_labels, retrieval_labels, topk=()) -> dict:
    """The graded metrics of items ranked by decreasing cosine (0 for an empty row), ties by index."""
    rankings = [[shared_labels(ql, retrieval_labels[j]) for j in cosine_order(q, retrieval_rows)]
                for q, ql in zip(query_rows, query_labels)]
    return graded_from_rankings(rankings, topk)
