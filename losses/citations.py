"""The methods the registered losses implement, one :class:`~losses.citation.Citation` each (docs/losses.md).

``code`` and ``commit`` name the released code each loss was checked against (tests/golden/ holds the numbers).
"""
from __future__ import annotations

from .citation import Citation


def _bibtex(kind: str, key: str, **fields: str) -> str:
    # BibTeX is read by LaTeX: the superscript of HyP² goes in math mode
    body = ",\n".join(f"  {name} = {{{value.replace('²', '$^2$')}}}" for name, value in fields.items())
    return f"@{kind}{{{key},\n{body}\n}}"


def _cite(method: str, title: str, authors: tuple[str, ...], venue: str, year: int, key: str, *,
          kind: str = "inproceedings", where: str, code: str | None = None, commit: str | None = None,
          **extra: str) -> Citation:
    container = "journal" if kind == "article" else "booktitle"
    bibtex = _bibtex(kind, key, title=title, author=" and ".join(authors), **{container: where}, year=str(year),
                     **extra)
    return Citation(method, title, authors, venue, year, key, bibtex, code, commit)


DCMH = _cite(
    "DCMH", "Deep Cross-Modal Hashing", ("Qing-Yuan Jiang", "Wu-Jun Li"), "CVPR", 2017, "jiang2017dcmh",
    where="IEEE Conference on Computer Vision and Pattern Recognition (CVPR)", pages="3232--3240",
    code="WendellGul/DCMH", commit="db070d08954dc9fe2704928437770535bef711b0")
HASHNET = _cite(
    "HashNet", "HashNet: Deep Learning to Hash by Continuation",
    ("Zhangjie Cao", "Mingsheng Long", "Jianmin Wang", "Philip S. Yu"), "ICCV", 2017, "cao2017hashnet",
    where="IEEE International Conference on Computer Vision (ICCV)", pages="5608--5617",
    code="swuxyj/DeepHash-pytorch", commit="ab14068ea9b33e8fe12de49d976d0c2e3f0dc129")
DCH = _cite(
    "DCH", "Deep Cauchy Hashing for Hamming Space Retrieval",
    ("Yue Cao", "Mingsheng Long", "Bin Liu", "Jianmin Wang"), "CVPR", 2018, "cao2018dch",
    where="IEEE Conference on Computer Vision and Pattern Recognition (CVPR)", pages="1229--1237",
    code="swuxyj/DeepHash-pytorch", commit="ab14068ea9b33e8fe12de49d976d0c2e3f0dc129")
DCHMT = _cite(
    "DCHMT", "Differentiable Cross-Modal Hashing via Multimodal Transformers",
    ("Junfeng Tu", "Xueliang Liu", "Zongxiang Lin", "Richang Hong", "Meng Wang"), "ACM MM", 2022, "tu2022dchmt",
    where="ACM International Conference on Multimedia (MM)",
    code="kalenforn/DCHMT", commit="79bd5e6ac816086912efa5d1b9cc7722d90bea20")
BIDIRECTIONAL_TRIPLET = _cite(
    "Bidirectional triplet ranking", "Learning Deep Structure-Preserving Image-Text Embeddings",
    ("Liwei Wang", "Yin Li", "Svetlana Lazebnik"), "CVPR", 2016, "wang2016structure",
    where="IEEE Conference on Computer Vision and Pattern Recognition (CVPR)", pages="5005--5013")
DTSH = _cite(
    "DTSH", "Deep Supervised Hashing with Triplet Labels", ("Xiaofang Wang", "Yi Shi", "Kris M. Kitani"),
    "ACCV", 2016, "wang2016dtsh", where="Asian Conference on Computer Vision (ACCV)", pages="70--84",
    code="swuxyj/DeepHash-pytorch", commit="ab14068ea9b33e8fe12de49d976d0c2e3f0dc129")
CSQ = _cite(
    "CSQ", "Central Similarity Quantization for Efficient Image and Video Retrieval",
    ("Li Yuan", "Tao Wang", "Xiaopeng Zhang", "Francis E. H. Tay", "Zequn Jie", "Wei Liu", "Jiashi Feng"),
    "CVPR", 2020, "yuan2020csq", where="IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)",
    code="yuanli2333/Hadamard-Matrix-for-hashing",
    commit="55cab0092813728c43b0a828e484d0dccb2751a7")
DPN = _cite(
    "DPN", "Deep Polarized Network for Supervised Learning of Accurate Binary Hashing Codes",
    ("Lixin Fan", "Kam Woh Ng", "Ce Ju", "Tianyu Zhang", "Chee Seng Chan"), "IJCAI", 2020, "fan2020dpn",
    where="International Joint Conference on Artificial Intelligence (IJCAI)",
    code="swuxyj/DeepHash-pytorch", commit="ab14068ea9b33e8fe12de49d976d0c2e3f0dc129")
ORTHOHASH = _cite(
    "OrthoHash", "One Loss for All: Deep Hashing with a Single Cosine Similarity based Learning Objective",
    ("Jiun Tian Hoe", "Kam Woh Ng", "Tianyu Zhang", "Chee Seng Chan", "Yi-Zhe Song", "Tao Xiang"), "NeurIPS", 2021,
    "hoe2021orthohash", where="Advances in Neural Information Processing Systems (NeurIPS)",
    code="kamwoh/orthohash", commit="94c4a0335e8b52d79d9896d7ba195b3ea426ff55")
HYP2 = _cite(
    "HyP²", "HyP² Loss: Beyond Hypersphere Metric Space for Multi-label Image Retrieval",
    ("Chengyin Xu", "Zenghao Chai", "Zhengzhuo Xu", "Chun Yuan", "Yanbo Fan", "Jue Wang"), "ACM MM", 2022,
    "xu2022hyp2", where="ACM International Conference on Multimedia (MM)",
    code="JerryXu0129/HyP2-Loss", commit="e9c1c24c74d306d867f5d1d3505f5c791871534e")
DSPH = _cite(
    "DSPH", "Deep Semantic-Aware Proxy Hashing for Multi-Label Cross-Modal Retrieval",
    ("Yadong Huo", "Qibing Qin", "Jiangyan Dai", "Lei Wang", "Wenfeng Zhang", "Lei Huang", "Chengduan Wang"),
    "IEEE TCSVT", 2024, "huo2024dsph", kind="article",
    where="IEEE Transactions on Circuits and Systems for Video Technology", volume="34", number="1",
    code="QinLab-WFU/DSPH", commit="078b1a1f17f679639fd4243c339d169ce896f2a1")
PROXY_ANCHOR = _cite(
    "Proxy Anchor", "Proxy Anchor Loss for Deep Metric Learning",
    ("Sungyeon Kim", "Dongwon Kim", "Minsu Cho", "Suha Kwak"), "CVPR", 2020, "kim2020proxyanchor",
    where="IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)", pages="3238--3247",
    code="tjddus9597/Proxy-Anchor-CVPR2020", commit="51db57031e38f75c03f69bbdfad1a3233afd9787")
DCGH = _cite(
    "DCGH", "Deep Class-Guided Hashing for Multi-Label Cross-Modal Retrieval",
    ("Hao Chen", "Lei Zhu", "Xinghui Zhu"), "Applied Sciences", 2025, "chen2025dcgh", kind="article",
    where="Applied Sciences", volume="15", number="6", pages="3068", doi="10.3390/app15063068",
    code="donnotnormal/DCGH", commit="9177df68720b0d2542f0ff03305a1f5582d35bfe")
CLIP = _cite(
    "CLIP", "Learning Transferable Visual Models From Natural Language Supervision",
    ("Alec Radford", "Jong Wook Kim", "Chris Hallacy", "Aditya Ramesh", "Gabriel Goh", "Sandhini Agarwal",
     "Girish Sastry", "Amanda Askell", "Pamela Mishkin", "Jack Clark", "Gretchen Krueger", "Ilya Sutskever"),
    "ICML", 2021, "radford2021clip", where="International Conference on Machine Learning (ICML)",
    pages="8748--8763", code="mlfoundations/open_clip", commit="89fb801f1e6087880e951fc8354b8a2077b79c6d")
SUPCON = _cite(
    "SupCon", "Supervised Contrastive Learning",
    ("Prannay Khosla", "Piotr Teterwak", "Chen Wang", "Aaron Sarna", "Yonglong Tian", "Phillip Isola",
     "Aaron Maschinot", "Ce Liu", "Dilip Krishnan"), "NeurIPS", 2020, "khosla2020supcon",
    where="Advances in Neural Information Processing Systems (NeurIPS)",
    code="HobbitLong/SupContrast", commit="66a8fe53880d6a1084b2e4e0db0a019024d6d41a")
MULTI_SIMILARITY = _cite(
    "Multi-Similarity", "Multi-Similarity Loss With General Pair Weighting for Deep Metric Learning",
    ("Xun Wang", "Xintong Han", "Weilin Huang", "Dengke Dong", "Matthew R. Scott"), "CVPR", 2019,
    "wang2019multisimilarity", where="IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)",
    pages="5022--5030", code="QinLab-WFU/DMsH-LN", commit="f22eba744b20032cf712a051810e5a077a0b3f71")
DNPH = _cite(
    "DNpH", "Deep Neighborhood-Preserving Hashing With Quadratic Spherical Mutual Information for Cross-Modal "
    "Retrieval", ("Qibing Qin", "Yadong Huo", "Lei Huang", "Jiangyan Dai", "Huihui Zhang", "Wenfeng Zhang"),
    "IEEE TMM", 2024, "qin2024dnph", kind="article", where="IEEE Transactions on Multimedia", volume="26",
    doi="10.1109/TMM.2023.3349075", code="QinLab-WFU/DNpH", commit="e27c5b03520a3c32b3f7160c163780066e4ad446")
