"""The shared model every loss is trained on: a dual encoder over ``transformers.CLIPModel`` with one
hash head per modality, its tokenizer and image transform, and the frozen-feature cache.

Never imports ``benchmark``; the losses never import this package.
"""
