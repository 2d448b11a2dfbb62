"""Direct loop transcriptions of the formulas in docs/losses.md, in plain Python floats.

Slow and obvious on purpose: every sum is a loop over samples, pairs or triplets, so they serve as
independent oracles for the matrix implementations in ``losses/``. Each returns the weighted terms by
the names the implementation uses; their sum is the loss.
"""
from __future__ import annotations

import math

COS_EPS = 1e-8  # the norm floor of the cosine in docs/losses.md


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def cos(a, b):
    return dot(a, b) / (max(math.sqrt(dot(a, a)), COS_EPS) * max(math.sqrt(dot(b, b)), COS_EPS))


def relu(x):
    return x if x > 0 else 0.0


def sgn(x):
    return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)


def softplus(x):
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def mean(values):
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def shares_label(y_i, y_j):
    return dot(y_i, y_j) > 0


def cos_table(a, b):
    return [[cos(a_i, b_j) for b_j in b] for a_i in a]


def pairwise(u, v, y, lambda_intra=1.0, gamma=0.1):
    n = len(u)

    def ell(a, b):
        total = 0.0
        for i in range(n):
            for j in range(n):
                theta = 0.5 * dot(a[i], b[j])
                s = 1.0 if shares_label(y[i], y[j]) else 0.0
                total += softplus(theta) - s * theta
        return total / (n * n)

    q = mean((x - sgn(x)) ** 2 for row in u for x in row) + mean((x - sgn(x)) ** 2 for row in v for x in row)
    return {
        "inter": ell(u, v),
        "intra_img": lambda_intra * ell(u, u),
        "intra_txt": lambda_intra * ell(v, v),
        "quantization": gamma * q,
    }


def triplet(u, v, y, margin=0.3, mining="all"):
    n = len(u)

    def one_direction(a, b):
        c = cos_table(a, b)
        terms = []
        for i in range(n):
            positives = [p for p in range(n) if p == i or shares_label(y[i], y[p])]
            negatives = [q for q in range(n) if q not in positives]
            if mining == "all":
                for p in positives:
                    for q in negatives:
                        terms.append(relu(margin - c[i][p] + c[i][q]))
            elif negatives:
                hardest_positive = min(c[i][p] for p in positives)
                hardest_negative = max(c[i][q] for q in negatives)
                terms.append(relu(margin - hardest_positive + hardest_negative))
        return mean(t for t in terms if t > 0)

    return {"img_to_txt": one_direction(u, v), "txt_to_img": one_direction(v, u)}


def center(u, v, y, centers, tie_breaker, lambda_pair=0.2, lambda_q=0.05):
    n, k, c = len(u), len(u[0]), len(centers)
    targets = []
    for i in range(n):
        t = []
        for b in range(k):
            vote = sum(y[i][j] * centers[j][b] for j in range(c))
            t.append(sgn(vote) if vote != 0 else tie_breaker[b])
        targets.append(t)

    def log(p):  # torch's BCE floors each log at -100
        return max(math.log(p), -100.0) if p > 0 else -100.0

    def bce(codes):
        total = 0.0
        for i in range(n):
            for b in range(k):
                p = (codes[i][b] + 1) / 2
                q = (targets[i][b] + 1) / 2
                total += -(q * log(p) + (1 - q) * log(1 - p))
        return total / (n * k)

    alpha = 10.0 / k
    pair = mean(softplus(alpha * dot(u[i], v[j])) - (1.0 if shares_label(y[i], y[j]) else 0.0) * alpha * dot(u[i], v[j])
                for i in range(n) for j in range(n))
    quant = mean((abs(x) - 1) ** 2 for row in u for x in row) + mean((abs(x) - 1) ** 2 for row in v for x in row)
    return {"center_img": bce(u) / 2, "center_txt": bce(v) / 2, "pair": lambda_pair * pair,
            "quantization": lambda_q * quant / 2}


def dcmh(u, v, y, gamma=1.0, eta=1.0):
    n, k = len(u), len(u[0])
    likelihood = 0.0
    for i in range(n):
        for j in range(n):
            theta = dot(u[i], v[j]) / 2
            likelihood += softplus(theta) - (1.0 if shares_label(y[i], y[j]) else 0.0) * theta
    quantization = 0.0
    for i in range(n):
        for b in range(k):
            code = sgn(u[i][b] + v[i][b])
            quantization += (code - u[i][b]) ** 2 + (code - v[i][b]) ** 2
    balance = sum(sum(u[i][b] for i in range(n)) ** 2 + sum(v[i][b] for i in range(n)) ** 2 for b in range(k))
    scale = 1.0 / n ** 2
    return {"likelihood": scale * likelihood, "quantization": scale * gamma * quantization,
            "balance": scale * eta * balance}


def proxy(u, v, y, proxies, zeta=0.0):
    n, c = len(y), len(y[0])
    n_pos = sum(1 for i in range(n) for j in range(c) if y[i][j] == 1)
    n_neg = sum(1 for i in range(n) for j in range(c) if y[i][j] == 0)
    terms = {}
    for name, m in (("img", u), ("txt", v)):
        pos = sum(1 - cos(m[i], proxies[j]) for i in range(n) for j in range(c) if y[i][j] == 1)
        neg = sum(relu(cos(m[i], proxies[j]) - zeta) for i in range(n) for j in range(c) if y[i][j] == 0)
        terms[f"proxy_pos_{name}"] = pos / n_pos if n_pos else 0.0
        terms[f"proxy_neg_{name}"] = neg / n_neg if n_neg else 0.0
    return terms


def dcgh(u, v, y, proxies, alpha=0.8, beta=0.05, gamma=1.0, variance="all-classes", zeta=0.0):
    n, c = len(y), len(y[0])
    cuu, cvv, cuv = cos_table(u, u), cos_table(v, v), cos_table(u, v)

    multi = [i for i in range(n) if sum(y[i]) > 1]
    omega_neg = [(i, j) for i in multi for j in multi if dot(y[i], y[j]) == 0]
    l_neg = mean(relu(cuu[i][j]) + relu(cvv[i][j]) + relu(cuv[i][j]) for i, j in omega_neg)

    s_hat = cos_table(y, y)
    omega_pos = [(i, j) for i in range(n) for j in range(n) if s_hat[i][j] > 0]
    l_pos = mean(
        relu(s_hat[i][j] - cuu[i][j]) + relu(s_hat[i][j] - cvv[i][j]) + relu(s_hat[i][j] - cuv[i][j])
        for i, j in omega_pos
    )

    l_var = 0.0
    for m in (u, v):
        per_sample = []
        for i in range(n):
            d = [1 - cos(m[i], proxies[j]) for j in range(c)]
            if variance == "all-classes":
                row = [d[j] * y[i][j] for j in range(c)]
                mu = sum(row) / c
                per_sample.append(sum((x - mu) ** 2 for x in row) / (c - 1))
            else:
                own = [d[j] for j in range(c) if y[i][j] == 1]
                if len(own) >= 2:
                    mu = sum(own) / len(own)
                    per_sample.append(sum((x - mu) ** 2 for x in own) / len(own))
                else:
                    per_sample.append(0.0)
        l_var += sum(per_sample) / n

    terms = proxy(u, v, y, proxies, zeta)
    terms.update({"neg_pair": alpha * l_neg, "pos_pair": beta * l_pos, "variance": gamma * l_var})
    return terms


# ----------------------------------------------------------------------------------------------------------
# The zoo: one transcription per docs/losses.md section, same conventions (weighted terms by their names).


def norm(a):
    return math.sqrt(dot(a, a))


def split_by_similarity(y, values):
    """``values[i][j]`` of the pairs sharing a label, and of the others."""
    n = len(y)
    similar = [values[i][j] for i in range(n) for j in range(n) if shares_label(y[i], y[j])]
    dissimilar = [values[i][j] for i in range(n) for j in range(n) if not shares_label(y[i], y[j])]
    return similar, dissimilar


def hashnet(u, v, y, scale=10.0):
    n, k = len(u), len(u[0])
    alpha = scale / k
    ell = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(n):
            theta = alpha * dot(u[i], v[j])
            ell[i][j] = softplus(theta) - (1.0 if shares_label(y[i], y[j]) else 0.0) * theta
    similar, dissimilar = split_by_similarity(y, ell)
    return {"similar_pairs": mean(similar), "dissimilar_pairs": mean(dissimilar)}


def cauchy_distance(a, b):
    k = len(a)
    c = dot(a, b) / max(norm(a) * norm(b), 1e-4)
    return (1 - min(c, 0.99)) * k / 2


def dch(u, v, y, gamma=20.0, lambda_q=0.1):
    n, k = len(u), len(u[0])
    d = [[cauchy_distance(u[i], v[j]) for j in range(n)] for i in range(n)]
    similar = [math.log(1 + d[i][j] / gamma) for i in range(n) for j in range(n) if shares_label(y[i], y[j])]
    dissimilar = [math.log(1 + gamma / d[i][j]) for i in range(n) for j in range(n) if not shares_label(y[i], y[j])]

    def q(codes):
        return mean(math.log(1 + cauchy_distance([abs(x) for x in row], [1.0] * k) / gamma) for row in codes)

    return {"similar_pairs": mean(similar), "dissimilar_pairs": mean(dissimilar),
            "quantization": lambda_q * (q(u) + q(v)) / 2}


def dchmt(u, v, y, vartheta=0.5, gamma=1.0):
    n, k = len(u), len(u[0])
    margin = math.sqrt(2 * k * vartheta)

    def pair_terms(a, b):
        pos = neg = 0.0
        for i in range(n):
            for j in range(n):
                distance = math.sqrt(sum((x - z) ** 2 for x, z in zip(a[i], b[j])))
                if shares_label(y[i], y[j]):
                    pos += distance ** 2
                else:
                    neg += relu(margin - distance) ** 2
        return pos / (n * n), neg / (n * n)

    terms = {}
    for name, a, b in (("img_txt", u, v), ("img_img", u, u), ("txt_txt", v, v)):
        terms[f"pos_{name}"], terms[f"neg_{name}"] = pair_terms(a, b)

    def q(codes):
        return mean(0.5 * math.sqrt(sum((sgn(x) - x) ** 2 for x in row)) for row in codes)

    terms["quantization"] = gamma * (q(u) + q(v)) / 2
    return terms


def dtsh(u, v, y, alpha=5.0, lambda_q=1.0):
    n = len(u)

    def direction(a, b):
        theta = [[dot(a[i], b[j]) for j in range(n)] for i in range(n)]
        per_anchor = []
        for i in range(n):
            positives = [p for p in range(n) if shares_label(y[i], y[p])]
            negatives = [q for q in range(n) if not shares_label(y[i], y[q])]
            if positives and negatives:
                per_anchor.append(mean(softplus(-min(max(theta[i][p] - theta[i][q] - alpha, -100.0), 50.0))
                                       for p in positives for q in negatives))
        return mean(per_anchor)

    q = mean((x - sgn(x)) ** 2 for row in u for x in row) + mean((x - sgn(x)) ** 2 for row in v for x in row)
    return {"img_to_txt": direction(u, v) / 2, "txt_to_img": direction(v, u) / 2, "quantization": lambda_q * q / 2}


def voted_targets(y, centers, tie_breaker):
    k, c = len(centers[0]), len(centers)
    targets = []
    for y_i in y:
        row = []
        for b in range(k):
            vote = sum(y_i[j] * centers[j][b] for j in range(c))
            row.append(sgn(vote) if vote != 0 else tie_breaker[b])
        targets.append(row)
    return targets


def dpn(u, v, y, centers, tie_breaker, m=1.0, p=0.5):
    targets = voted_targets(y, centers, tie_breaker)

    def polarization(codes):
        return mean(relu(m - x * t) for row, t_row in zip(codes, targets) for x, t in zip(row, t_row))

    return {"polarization_img": polarization(u) / 2, "polarization_txt": polarization(v) / 2}


def orthohash(u, v, y, centers, s=8.0, m=0.2, ce=1.0, quan=0.0):
    c = len(centers)

    def cross_entropy(codes):
        losses = []
        for a_i, y_i in zip(codes, y):
            z = [s * (cos(a_i, centers[j]) - m * y_i[j]) for j in range(c)]
            top = max(z)
            log_normaliser = top + math.log(sum(math.exp(z_j - top) for z_j in z))
            count = max(sum(y_i), 1.0)
            losses.append(-sum(y_i[j] / count * (z[j] - log_normaliser) for j in range(c)))
        return mean(losses)

    def quantization(codes):
        return mean(1 - cos(row, [sgn(x) for x in row]) for row in codes)

    return {"ce_img": ce * cross_entropy(u) / 2, "ce_txt": ce * cross_entropy(v) / 2,
            "quantization": quan * (quantization(u) + quantization(v)) / 2}


def irrelevant_pair_list(y):
    multi = [i for i in range(len(y)) if sum(y[i]) > 1]
    return [(i, j) for i in multi for j in multi if dot(y[i], y[j]) == 0]


def hyp2(u, v, y, proxies, beta=0.5, zeta=0.0):
    terms = {name: value / 2 for name, value in proxy(u, v, y, proxies, zeta).items()}
    terms["irrelevant_pair"] = beta * mean(relu(cos(u[i], v[j]) - zeta) for i, j in irrelevant_pair_list(y))
    return terms


def dsph(u, v, y, proxies, alpha=0.8, zeta=0.0):
    terms = proxy(u, v, y, proxies, zeta)
    omega = irrelevant_pair_list(y)
    for name, a, b in (("img", u, u), ("txt", v, v), ("img_txt", u, v)):
        terms[f"irrelevant_{name}"] = alpha * mean(relu(cos(a[i], b[j]) - zeta) for i, j in omega)
    return terms


def proxy_anchor(u, v, y, proxies, alpha=32.0, mrg=0.1):
    n, c = len(y), len(y[0])
    terms = {}
    for name, codes in (("img", u), ("txt", v)):
        with_positives = [j for j in range(c) if any(y[i][j] == 1 for i in range(n))]
        pos = sum(math.log(1 + sum(math.exp(-alpha * (cos(codes[i], proxies[j]) - mrg))
                                   for i in range(n) if y[i][j] == 1)) for j in with_positives)
        neg = sum(math.log(1 + sum(math.exp(alpha * (cos(codes[i], proxies[j]) + mrg))
                                   for i in range(n) if y[i][j] == 0)) for j in range(c))
        terms[f"pos_{name}"] = (pos / len(with_positives) if with_positives else 0.0) / 2
        terms[f"neg_{name}"] = neg / c / 2
    return terms


def log_softmax_at(row, index):
    top = max(row)
    return row[index] - top - math.log(sum(math.exp(x - top) for x in row))


def infonce(u, v, y, temperature=0.07):
    n = len(u)
    logits = [[cos(u[i], v[j]) / temperature for j in range(n)] for i in range(n)]
    columns = [[logits[i][j] for i in range(n)] for j in range(n)]
    return {"img_to_txt": -mean(log_softmax_at(logits[i], i) for i in range(n)) / 2,
            "txt_to_img": -mean(log_softmax_at(columns[j], j) for j in range(n)) / 2}


def supcon(u, v, y, temperature=0.07, base_temperature=0.07, positives="shared"):
    """Each of the 2n codes as an anchor against the other 2n - 1; a pair's weight by its items' labels."""
    n = len(u)
    codes, items = u + v, list(range(n)) * 2

    def weight(a, b):
        i, j = items[a], items[b]
        if i == j:
            return 1.0
        if positives == "shared":
            return 1.0 if shares_label(y[i], y[j]) else 0.0
        return cos(y[i], y[j])

    per_anchor = []
    for a in range(2 * n):
        others = [b for b in range(2 * n) if b != a]
        logits = [cos(codes[a], codes[b]) / temperature for b in others]
        top = max(logits)
        log_norm = top + math.log(sum(math.exp(x - top) for x in logits))
        weights = [weight(a, b) for b in others]
        mean_log_prob = sum(w * (x - log_norm) for w, x in zip(weights, logits)) / sum(weights)
        per_anchor.append(-(temperature / base_temperature) * mean_log_prob)
    return {"img_anchors": sum(per_anchor[:n]) / (2 * n), "txt_anchors": sum(per_anchor[n:]) / (2 * n)}


def multi_similarity(a, b, y, thresh, margin, scale_pos, scale_neg, similarity):
    n = len(a)
    raw = [[dot(a[i], b[j]) for j in range(n)] for i in range(n)]
    if similarity == "cosine":
        sim = cos_table(a, b)
    else:  # each row of a b^T divided by its L2 norm
        sim = [[x / max(math.sqrt(sum(z * z for z in row)), 1e-12) for x in row] for row in raw]
    total = 0.0
    for i in range(n):
        pos = [sim[i][j] for j in range(n) if shares_label(y[i], y[j]) and sim[i][j] < 1 - 1e-5]
        neg = [sim[i][j] for j in range(n) if not shares_label(y[i], y[j])]
        if not pos or not neg:
            continue
        mined_neg = [s for s in neg if s + margin > min(pos)]
        mined_pos = [s for s in pos if s - margin < max(neg)]
        if not mined_neg or not mined_pos:
            continue
        total += (math.log(1 + sum(math.exp(-scale_pos * (s - thresh)) for s in mined_pos)) / scale_pos
                  + math.log(1 + sum(math.exp(scale_neg * (s - thresh)) for s in mined_neg)) / scale_neg)
    return total / n


def ms(u, v, y, thresh=0.5, margin=0.1, scale_pos=2.0, scale_neg=40.0, similarity="row-normalized"):
    settings = (thresh, margin, scale_pos, scale_neg, similarity)
    return {"img_img": multi_similarity(u, u, y, *settings), "txt_txt": multi_similarity(v, v, y, *settings),
            "img_to_txt": multi_similarity(u, v, y, *settings)}


def qmi(u, v, y, kernel="cosine", sigma=3.0, square_clamp=True):
    n = len(u)
    shared = [[1.0 if shares_label(y[i], y[j]) else 0.0 for j in range(n)] for i in range(n)]
    inverse_needs = sum(map(sum, shared)) / n ** 2

    def k(a, b):
        if kernel == "cosine":
            return 0.5 * (1 + dot(a, b) / ((math.sqrt(dot(a, a)) + 1e-8) * (math.sqrt(dot(b, b)) + 1e-8)))
        return math.exp(-max(sum((x - z) ** 2 for x, z in zip(a, b)), 0.0) / (2 * sigma ** 2))

    def q(a, b):
        total = 0.0
        for i in range(n):
            for j in range(n):
                value, d = k(a[i], b[j]), shared[i][j]
                total += ((d * value - 1) ** 2 + inverse_needs * value ** 2) if square_clamp \
                    else -(d * value - inverse_needs * value)
        return total

    return {"image": q(u, u), "text": q(v, v), "cross": q(u, v)}
