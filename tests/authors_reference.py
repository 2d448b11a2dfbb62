"""Straight transcriptions of the published loss functions the zoo implements, as independent references.

Each function keeps its source's own structure — its loops, masks, reductions and constants — and is written
here from reading the named file; only framework plumbing is left out (``.cuda()``/``.to(device)``,
``Variable``, ``.data`` and ``.to(torch.float32)`` casts, which would only lower the precision of a float64
comparison). Configuration the sources read from a global ``config``/``args`` is passed as arguments; state
their constructors draw at random (proxies, target vectors, codebooks) is passed in, so the caller can give
the same state to the project's loss. ``tests/test_losses_authors.py`` states, for each, the configuration in
which the two must agree.
"""
from __future__ import annotations

from types import SimpleNamespace

import torch
import torch.nn.functional as F


# ---------------------------------------------------------------------------------------------------- HashNet
# thuml/HashNet, pytorch/src/loss.py (latest version, with sigmoid_param applied to the inner product).


def thuml_pairwise_loss(outputs1, outputs2, label1, label2, sigmoid_param=1.0, l_threshold=15.0, class_num=1.0):
    similarity = (torch.mm(label1.float(), label2.float().t()) > 0).to(outputs1.dtype)
    dot_product = sigmoid_param * torch.mm(outputs1, outputs2.t())
    exp_product = torch.exp(dot_product)
    mask_dot = dot_product > l_threshold
    mask_exp = dot_product <= l_threshold
    mask_positive = similarity > 0
    mask_negative = similarity <= 0
    mask_dp = mask_dot & mask_positive
    mask_dn = mask_dot & mask_negative
    mask_ep = mask_exp & mask_positive
    mask_en = mask_exp & mask_negative

    dot_loss = dot_product * (1 - similarity)
    exp_loss = torch.log(1 + exp_product) - similarity * dot_product
    loss = (torch.sum(torch.masked_select(exp_loss, mask_ep)) + torch.sum(torch.masked_select(dot_loss, mask_dp))) \
        * class_num + torch.sum(torch.masked_select(exp_loss, mask_en)) + torch.sum(torch.masked_select(dot_loss, mask_dn))
    return loss / (torch.sum(mask_positive.to(outputs1.dtype)) * class_num + torch.sum(mask_negative.to(outputs1.dtype)))


def thuml_pairwise_loss_updated(outputs1, outputs2, label1, label2):
    similarity = (torch.mm(label1.float(), label2.float().t()) > 0).to(outputs1.dtype)
    dot_product = torch.mm(outputs1, outputs2.t())
    mask_positive = similarity > 0
    mask_negative = similarity <= 0
    exp_loss = torch.log(1 + torch.exp(-torch.abs(dot_product))) \
        + torch.max(dot_product, torch.zeros(1, dtype=dot_product.dtype)) - similarity * dot_product
    # weight
    S1 = torch.sum(mask_positive.to(outputs1.dtype))
    S0 = torch.sum(mask_negative.to(outputs1.dtype))
    S = S0 + S1
    exp_loss = exp_loss.clone()
    exp_loss[similarity > 0] = exp_loss[similarity > 0] * (S / S1)
    exp_loss[similarity <= 0] = exp_loss[similarity <= 0] * (S / S0)
    loss = torch.sum(exp_loss) / S
    return loss


# swuxyj/DeepHash-pytorch, HashNet.py ("from https://github.com/thuml/HashNet/issues/17").


def deephash_hashnet_pairwise_loss(outputs1, outputs2, label1, label2, config):
    similarity = (label1 @ label2.t() > 0).to(outputs1.dtype)
    dot_product = config["alpha"] * outputs1 @ outputs2.t()

    mask_positive = similarity > 0
    mask_negative = similarity <= 0
    exp_loss = torch.log(1 + torch.exp(-torch.abs(dot_product))) \
        + torch.max(dot_product, torch.zeros(1, dtype=dot_product.dtype)) - similarity * dot_product

    # weight
    S1 = torch.sum(mask_positive.to(outputs1.dtype))
    S0 = torch.sum(mask_negative.to(outputs1.dtype))
    S = S0 + S1
    exp_loss = exp_loss.clone()
    exp_loss[mask_positive] = exp_loss[mask_positive] * (S / S1)
    exp_loss[mask_negative] = exp_loss[mask_negative] * (S / S0)

    loss = torch.sum(exp_loss) / S
    return loss


# ---------------------------------------------------------------------------------------------------- DCH
# swuxyj/DeepHash-pytorch, DCH.py, class DCHLoss.


class DeepHashDCHLoss(torch.nn.Module):
    def __init__(self, config, bit):
        super().__init__()
        self.gamma = config["gamma"]
        self.lambda1 = config["lambda"]
        self.K = bit
        self.one = torch.ones((config["batch_size"], bit), dtype=torch.float64)

    def d(self, hi, hj):
        inner_product = hi @ hj.t()
        norm = hi.pow(2).sum(dim=1, keepdim=True).pow(0.5) @ hj.pow(2).sum(dim=1, keepdim=True).pow(0.5).t()
        cos = inner_product / norm.clamp(min=0.0001)
        # formula 6
        return (1 - cos.clamp(max=0.99)) * self.K / 2

    def forward(self, u, y, ind, config):
        s = (y @ y.t() > 0).to(u.dtype)

        if (1 - s).sum() != 0 and s.sum() != 0:
            # formula 2
            positive_w = s * s.numel() / s.sum()
            negative_w = (1 - s) * s.numel() / (1 - s).sum()
            w = positive_w + negative_w
        else:
            # maybe |S1|==0 or |S2|==0
            w = 1

        d_hi_hj = self.d(u, u)
        # formula 8
        cauchy_loss = w * (s * torch.log(d_hi_hj / self.gamma) + torch.log(1 + self.gamma / d_hi_hj))
        # formula 9
        quantization_loss = torch.log(1 + self.d(u.abs(), self.one.to(u.dtype)) / self.gamma)
        # formula 7
        loss = cauchy_loss.mean() + self.lambda1 * quantization_loss.mean()
        return loss


# ---------------------------------------------------------------------------------------------------- DCHMT
# kalenforn/DCHMT, train/hash_train.py (Trainer.similarity_loss, our_loss/compute_loss) and train/base.py
# (TrainBase.hash_loss), read from the copy in BMC-SDNU/Cross-Modal-Retrieval; utils.calc_neighbor,
# utils.cosine_similarity and utils.euclidean_similarity (torch.cdist) from kalenforn/DCHMT utils/utils.py;
# defaults from utils/get_args.py.


def dchmt_args(output_dim, hash_layer="linear", vartheta=0.5, sim_threshold=0.1,
               similarity_function="euclidean", loss_type="l2"):
    return SimpleNamespace(output_dim=output_dim, hash_layer=hash_layer, vartheta=vartheta,
                           sim_threshold=sim_threshold, similarity_function=similarity_function, loss_type=loss_type)


def calc_neighbor(a, b):
    return (a.matmul(b.transpose(0, 1)) > 0).to(a.dtype)


def dchmt_cosine_similarity(a, b):
    a = a / a.norm(dim=-1, keepdim=True) if len(torch.where(a != 0)[0]) > 0 else a
    b = b / b.norm(dim=-1, keepdim=True) if len(torch.where(b != 0)[0]) > 0 else b
    return torch.matmul(a, b.t())


class DCHMTTrainer:
    def __init__(self, args):
        self.args = args

    def hash_loss(self, a):
        return torch.mean(torch.sqrt(torch.sum(torch.pow(torch.sign(a) - a, 2), dim=1))) * 0.5

    def similarity_loss(self, a, b, label_sim, threshold=0.05):
        vartheta = self.args.vartheta
        if self.args.sim_threshold != 0:
            threshold = self.args.sim_threshold
        similarity = (1 - dchmt_cosine_similarity(a, b)) if self.args.similarity_function == "cosine" \
            else torch.cdist(a, b, p=2.0)

        positive_similarity = similarity * label_sim
        negative_similarity = similarity * (1 - label_sim)

        if self.args.similarity_function == "cosine":
            positive_similarity = positive_similarity.clip(threshold) - threshold
            negative_similarity = negative_similarity.clip(max=1.)
            negative_similarity = torch.tensor([1.], dtype=a.dtype).expand_as(negative_similarity) * (1 - label_sim) \
                - negative_similarity
        elif self.args.similarity_function == "euclidean":
            max_value = float(self.args.output_dim * 2 * vartheta) ** 0.5
            negative_similarity = negative_similarity.clip(max=max_value)
            negative_similarity = torch.tensor([max_value], dtype=a.dtype).expand_as(negative_similarity) \
                * (1 - label_sim) - negative_similarity

        if self.args.loss_type == "l1":
            positive_loss = positive_similarity.mean()
            negative_loss = negative_similarity.mean()
        elif self.args.loss_type == "l2":
            positive_loss = torch.pow(positive_similarity, 2).mean()
            negative_loss = torch.pow(negative_similarity, 2).mean()
        else:
            raise ValueError("argument of loss_type is not support.")
        return similarity, positive_loss, negative_loss

    def our_loss(self, image, text, label):
        label_sim = calc_neighbor(label, label)
        intra_similarity, intra_positive_loss, intra_negative_loss = self.similarity_loss(image, text, label_sim)
        inter_similarity_i, inter_positive_loss_i, inter_negative_loss_i = self.similarity_loss(image, image, label_sim)
        inter_similarity_t, inter_positive_loss_t, inter_negative_loss_t = self.similarity_loss(text, text, label_sim)

        intra_similarity_loss = intra_positive_loss + intra_negative_loss
        inter_similarity_loss = inter_positive_loss_t + inter_positive_loss_i + inter_negative_loss_i \
            + inter_negative_loss_t
        similarity_loss = inter_similarity_loss + intra_similarity_loss

        if self.args.hash_layer != "select":
            quantization_loss = (self.hash_loss(image) + self.hash_loss(text)) / 2
            loss = similarity_loss + quantization_loss
        else:
            loss = similarity_loss
        return loss

    def compute_loss(self, image, text, label):
        return self.our_loss(image, text, label)


# ---------------------------------------------------------------------------------------------------- DTSH
# swuxyj/DeepHash-pytorch, DTSH.py, class DTSHLoss.


def deephash_dtsh_loss(u, y, ind, config):
    inner_product = u @ u.t()
    s = y @ y.t() > 0
    count = 0

    loss1 = 0
    for row in range(s.shape[0]):
        # if has positive pairs and negative pairs
        if s[row].sum() != 0 and (~s[row]).sum() != 0:
            count += 1
            theta_positive = inner_product[row][s[row] == 1]
            theta_negative = inner_product[row][s[row] == 0]
            triple = (theta_positive.unsqueeze(1) - theta_negative.unsqueeze(0) - config["alpha"]).clamp(min=-100, max=50)
            loss1 += -(triple - torch.log(1 + torch.exp(triple))).mean()

    if count != 0:
        loss1 = loss1 / count
    else:
        loss1 = 0

    loss2 = config["lambda"] * (u - u.sign()).pow(2).mean()

    return loss1 + loss2


# ---------------------------------------------------------------------------------------------------- DPN
# swuxyj/DeepHash-pytorch, DPN.py, class DPNLoss (the "[DPN]" configuration: no ternary assignment, no
# adaptive update); the target vectors and multi_label_random_center are passed in instead of drawn.


class DeepHashDPNLoss:
    def __init__(self, target_vectors, multi_label_random_center, m=1.0, is_single_label=False):
        self.is_single_label = is_single_label
        self.target_vectors = target_vectors
        self.multi_label_random_center = multi_label_random_center
        self.m = m

    def forward(self, u, y, ind=None, config=None):
        t = self.label2center(y)
        polarization_loss = (self.m - u * t).clamp(0).mean()
        return polarization_loss

    def label2center(self, y):
        if self.is_single_label:
            hash_center = self.target_vectors[y.argmax(axis=1)]
        else:
            # for multi label, use the same strategy as CSQ
            center_sum = y @ self.target_vectors
            random_center = self.multi_label_random_center.repeat(center_sum.shape[0], 1)
            center_sum[center_sum == 0] = random_center[center_sum == 0]
            hash_center = 2 * (center_sum > 0).to(y.dtype) - 1
        return hash_center


# ---------------------------------------------------------------------------------------------------- OrthoHash
# kamwoh/orthohash, models/alexnet.py (CosSim, the layer producing `logits`) and functions/loss/orthohash.py
# (OrthoHashLoss.forward with m_type 'cos'); the codebook is passed in.


def orthohash_cossim(x, centroids):
    norms = torch.norm(x, p=2, dim=-1, keepdim=True)
    nfeat = torch.div(x, norms)
    norms_c = torch.norm(centroids, p=2, dim=-1, keepdim=True)
    ncenters = torch.div(centroids, norms_c)
    logits = torch.matmul(nfeat, torch.transpose(ncenters, 0, 1))
    return logits


class KamwohOrthoHashLoss:
    def __init__(self, ce=1, s=8, m=0.2, m_type="cos", multiclass=False, quan=0, quan_type="cs",
                 multiclass_loss="label_smoothing"):
        self.ce, self.s, self.m, self.m_type, self.multiclass = ce, s, m, m_type, multiclass
        self.quan, self.quan_type, self.multiclass_loss = quan, quan_type, multiclass_loss
        self.losses = {}

    def compute_margin_logits(self, logits, labels):
        assert self.m_type == "cos"
        if self.multiclass:
            y_onehot = labels * self.m
            margin_logits = self.s * (logits - y_onehot)
        else:
            y_onehot = torch.zeros_like(logits)
            y_onehot.scatter_(1, torch.unsqueeze(labels, dim=-1), self.m)
            margin_logits = self.s * (logits - y_onehot)
        return margin_logits

    def forward(self, logits, code_logits, labels, onehot=True):
        if self.multiclass:
            if not onehot:
                labels = F.one_hot(labels, logits.size(1))
            labels = labels.to(logits.dtype)
            margin_logits = self.compute_margin_logits(logits, labels)
            assert self.multiclass_loss == "label_smoothing"
            log_logits = F.log_softmax(margin_logits, dim=1)
            labels_scaled = labels / labels.sum(dim=1, keepdim=True)
            loss_ce = - (labels_scaled * log_logits).sum(dim=1)
            loss_ce = loss_ce.mean()
        else:
            if onehot:
                labels = labels.argmax(1)
            margin_logits = self.compute_margin_logits(logits, labels)
            loss_ce = F.cross_entropy(margin_logits, labels)

        if self.quan != 0:
            assert self.quan_type == "cs"
            quantization = (1. - F.cosine_similarity(code_logits, code_logits.detach().sign(), dim=1))
            quantization = quantization.mean()
        else:
            quantization = torch.tensor(0.)

        self.losses["ce"] = loss_ce
        self.losses["quan"] = quantization
        loss = self.ce * loss_ce + self.quan * quantization
        return loss


# ---------------------------------------------------------------------------------------------------- HyP²
# JerryXu0129/HyP2-Loss, model.py, class HyP (the proxies, `threshold` and `beta` are passed in; the source
# reads them from its global config, the threshold from codetable.xlsx).


def hyp2_forward(proxies, threshold, beta, x=None, batch_y=None):
    P_one_hot = batch_y

    cos = F.normalize(x, p=2, dim=1).mm(F.normalize(proxies, p=2, dim=1).T)
    pos = 1 - cos
    neg = F.relu(cos - threshold)

    P_num = len(P_one_hot.nonzero())
    N_num = len((P_one_hot == 0).nonzero())
    pos_term = torch.where(P_one_hot == 1, pos, torch.zeros_like(cos)).sum() / P_num
    neg_term = torch.where(P_one_hot == 0, neg, torch.zeros_like(cos)).sum() / N_num
    if beta > 0:
        index = batch_y.sum(dim=1) > 1
        y_ = batch_y[index].to(x.dtype)
        x_ = x[index]
        cos_sim = y_.mm(y_.T)
        if len((cos_sim == 0).nonzero()) == 0:
            reg_term = 0
        else:
            x_sim = F.normalize(x_, p=2, dim=1).mm(F.normalize(x_, p=2, dim=1).T)
            neg = beta * F.relu(x_sim - threshold)
            reg_term = torch.where(cos_sim == 0, neg, torch.zeros_like(x_sim)).sum() / len((cos_sim == 0).nonzero())
    else:
        reg_term = 0

    return pos_term + neg_term + reg_term


# ---------------------------------------------------------------------------------------------------- DSPH
# QinLab-WFU/DSPH, utils/utils.py, class HyP (proxies, `threshold` and `args.alpha` passed in).


def dsph_forward(proxies, threshold, alpha, x=None, y=None, label=None):
    P_one_hot = label

    cos = F.normalize(x, p=2, dim=1).mm(F.normalize(proxies, p=2, dim=1).T)
    pos = 1 - cos
    neg = F.relu(cos - threshold)

    cos_t = F.normalize(y, p=2, dim=1).mm(F.normalize(proxies, p=2, dim=1).T)
    pos_t = 1 - cos_t
    neg_t = F.relu(cos_t - threshold)

    P_num = len(P_one_hot.nonzero())
    N_num = len((P_one_hot == 0).nonzero())

    pos_term = torch.where(P_one_hot == 1, pos, torch.zeros_like(cos)).sum() / P_num
    neg_term = torch.where(P_one_hot == 0, neg, torch.zeros_like(cos)).sum() / N_num

    pos_term_t = torch.where(P_one_hot == 1, pos_t, torch.zeros_like(cos_t)).sum() / P_num
    neg_term_t = torch.where(P_one_hot == 0, neg_t, torch.zeros_like(cos_t)).sum() / N_num

    if alpha > 0:
        index = label.sum(dim=1) > 1
        label_ = label[index].to(x.dtype)

        x_ = x[index]
        t_ = y[index]

        cos_sim = label_.mm(label_.T)

        if len((cos_sim == 0).nonzero()) == 0:
            reg_term = 0
            reg_term_t = 0
            reg_term_xt = 0
        else:
            x_sim = F.normalize(x_, p=2, dim=1).mm(F.normalize(x_, p=2, dim=1).T)
            t_sim = F.normalize(t_, p=2, dim=1).mm(F.normalize(t_, p=2, dim=1).T)
            xt_sim = F.normalize(x_, p=2, dim=1).mm(F.normalize(t_, p=2, dim=1).T)

            neg = alpha * F.relu(x_sim - threshold)
            neg_t = alpha * F.relu(t_sim - threshold)
            neg_xt = alpha * F.relu(xt_sim - threshold)

            reg_term = torch.where(cos_sim == 0, neg, torch.zeros_like(x_sim)).sum() / len((cos_sim == 0).nonzero())
            reg_term_t = torch.where(cos_sim == 0, neg_t, torch.zeros_like(t_sim)).sum() / len((cos_sim == 0).nonzero())
            reg_term_xt = torch.where(cos_sim == 0, neg_xt, torch.zeros_like(xt_sim)).sum() \
                / len((cos_sim == 0).nonzero())
    else:
        reg_term = 0
        reg_term_t = 0
        reg_term_xt = 0

    return pos_term + neg_term + pos_term_t + neg_term_t + reg_term + reg_term_t + reg_term_xt


# ---------------------------------------------------------------------------------------------------- Proxy Anchor
# tjddus9597/Proxy-Anchor-CVPR2020, code/losses.py (binarize, l2_norm, Proxy_Anchor.forward); the proxies are
# passed in. `binarize` uses sklearn's label_binarize, transcribed as a one-hot of the class indices.


def binarize(T, nb_classes, dtype=torch.float64):
    return F.one_hot(T, nb_classes).to(dtype)


def l2_norm(input):
    input_size = input.size()
    buffer = torch.pow(input, 2)
    normp = torch.sum(buffer, 1).add_(1e-12)
    norm = torch.sqrt(normp)
    _output = torch.div(input, norm.view(-1, 1).expand_as(input))
    output = _output.view(input_size)
    return output


def proxy_anchor_forward(proxies, nb_classes, mrg, alpha, X, T, P_one_hot=None):
    """``Proxy_Anchor.forward(X, T)``; ``P_one_hot``, when given, replaces ``binarize(T)`` (the multi-label
    reading, where each sample is a positive of every class it carries)."""
    P = proxies

    cos = F.linear(l2_norm(X), l2_norm(P))  # Calcluate cosine similarity
    if P_one_hot is None:
        P_one_hot = binarize(T=T, nb_classes=nb_classes, dtype=X.dtype)
    N_one_hot = 1 - P_one_hot

    pos_exp = torch.exp(-alpha * (cos - mrg))
    neg_exp = torch.exp(alpha * (cos + mrg))

    # The set of positive proxies of data in the batch
    with_pos_proxies = torch.nonzero(P_one_hot.sum(dim=0) != 0).squeeze(dim=1)
    num_valid_proxies = len(with_pos_proxies)  # The number of positive proxies

    P_sim_sum = torch.where(P_one_hot == 1, pos_exp, torch.zeros_like(pos_exp)).sum(dim=0)
    N_sim_sum = torch.where(N_one_hot == 1, neg_exp, torch.zeros_like(neg_exp)).sum(dim=0)

    pos_term = torch.log(1 + P_sim_sum).sum() / num_valid_proxies
    neg_term = torch.log(1 + N_sim_sum).sum() / nb_classes
    loss = pos_term + neg_term

    return loss
