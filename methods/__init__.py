"""The shared model every loss is trained on: the CLIP backbone (``transformers.CLIPModel`` folders), the dual
encoder with one hash head per modality, its tokenizer and image transform (preprocessing), batch encoding and
synthetic pretraining.

It holds no hashing method despite its name: in hashing papers a "method" is what this suite calls a loss, and
those live in ``losses``. The name is kept because users know it (their imports and scripts).

Never imports ``benchmark``, and the losses never import this package; where files are cached is the
benchmark's business. Names are imported on first use, so importing the package loads nothing heavy.
"""
import importlib

_EXPORTS = {
    "TINY_CONFIGS": "backbone", "Backbone": "backbone", "folder_hash": "backbone", "load_backbone": "backbone",
    "save_backbone": "backbone", "text_vocabulary": "backbone", "tiny_clip": "backbone",
    "DualEncoder": "encoder", "HashHead": "encoder", "SeededDropout": "encoder",
    "encode_features": "feature_extraction",
    "warmup_cosine": "optim",
    "DEFAULT_MAX_TEXT_LEN": "preprocess", "ImageTransform": "preprocess", "image_batches": "preprocess",
    "tokenize": "preprocess",
    "pretrain_tiny_clip": "pretrain",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'methods' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
