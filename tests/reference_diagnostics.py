"""Slow, obvious transcriptions of the diagnostics of docs/diagnostics.md: loops over items, pairs and classes in
plain Python, as independent references for benchmark.diagnostics."""
from __future__ import annotations

import math
import statistics


def hamming(a, b) -> int:
    return sum(x != y for x, y in zip(a, b))


def distances(image, text, labels):
    """(intra, inter) lists of the distances between image i and text j != i."""
    intra, inter = [], []
    for i in range(len(image)):
        for j in range(len(text)):
            if i == j:
                continue
            shares = any(a and b for a, b in zip(labels[i], labels[j]))
            (intra if shares else inter).append(hamming(image[i], text[j]))
    return intra, inter


def auc(positive, negative) -> float:
    wins = sum(1.0 if p < n else 0.5 if p == n else 0.0 for p in positive for n in negative)
    return wins / (len(positive) * len(negative))


def centroid(codes, labels, c):
    members = [codes[i] for i in range(len(codes)) if labels[i][c]]
    return [1 if sum(m[b] for m in members) / len(members) >= 0 else -1 for b in range(len(codes[0]))]


def ranks(values):
    order = sorted(range(len(values)), key=lambda i: values[i])
    result = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            result[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return result


def pearson(x, y) -> float:
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sx = math.sqrt(sum((a - mx) ** 2 for a in x))
    sy = math.sqrt(sum((b - my) ** 2 for b in y))
    return sxy / (sx * sy) if sx and sy else 0.0


def structure(codes, labels) -> float:
    classes = [c for c in range(len(labels[0])) if any(row[c] for row in labels)]
    cents = {c: centroid(codes, labels, c) for c in classes}
    d, diss = [], []
    for a in range(len(classes)):
        for b in range(a + 1, len(classes)):
            ca, cb = classes[a], classes[b]
            items_a = {i for i in range(len(labels)) if labels[i][ca]}
            items_b = {i for i in range(len(labels)) if labels[i][cb]}
            d.append(hamming(cents[ca], cents[cb]))
            diss.append(1 - len(items_a & items_b) / len(items_a | items_b))
    return pearson(ranks(d), ranks(diss))


def bits(codes):
    k, n = len(codes[0]), len(codes)
    columns = [[row[b] for row in codes] for b in range(k)]
    balance = sum(abs(sum(col) / n) for col in columns) / k
    entropy = 0.0
    for col in columns:
        p = sum(v > 0 for v in col) / n
        entropy += -sum(q * math.log2(q) for q in (p, 1 - p) if q > 0)
    correlation = [abs(pearson(columns[a], columns[b])) for a in range(k) for b in range(a + 1, k)]
    return balance, entropy / k, sum(correlation) / len(correlation)


def semantic_bias(codes, labels):
    n_classes = len(labels[0])
    frequency = [sum(row[c] for row in labels) for c in range(n_classes)]
    cents = {c: centroid(codes, labels, c) for c in range(n_classes) if frequency[c]}
    spreads, credits, chances = [], [], []
    for i, row in enumerate(labels):
        own = [c for c in range(n_classes) if row[c]]
        if len(own) < 2:
            continue
        dist = {c: hamming(codes[i], cents[c]) for c in own}
        spreads.append(statistics.pstdev(dist.values()))
        nearest = [c for c in own if dist[c] == min(dist.values())]
        frequent = [c for c in own if frequency[c] == max(frequency[o] for o in own)]
        credits.append(len(set(nearest) & set(frequent)) / (len(nearest) * len(frequent)))
        chances.append(1 / len(own))
    return sum(spreads) / len(spreads), sum(credits) / len(credits), sum(chances) / len(chances)
