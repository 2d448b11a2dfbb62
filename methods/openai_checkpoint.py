"""OpenAI's CLIP checkpoints (``ViT-B-32.pt`` as distributed with openai/CLIP: a TorchScript archive, or a plain
state dict with the same keys) converted into a ``transformers.CLIPModel`` folder, so that they are then loaded
exactly like any other CLIP folder.

The layout of OpenAI's ``model.py`` (the vision transformer) and how it maps onto ``CLIPModel``:

============================================================  ===========================================================
OpenAI                                                        transformers
============================================================  ===========================================================
``visual.conv1.weight`` (no bias)                              ``vision_model.embeddings.patch_embedding.weight``
``visual.class_embedding``                                     ``vision_model.embeddings.class_embedding``
``visual.positional_embedding``                                ``vision_model.embeddings.position_embedding.weight``
``visual.ln_pre`` / ``visual.ln_post``                         ``vision_model.pre_layrnorm`` / ``vision_model.post_layernorm``
``visual.proj`` (width, embed), ``x @ proj``                   ``visual_projection.weight``: its transpose
``token_embedding.weight``, ``positional_embedding``           ``text_model.embeddings.token_embedding`` / ``position_embedding``
``ln_final``                                                   ``text_model.final_layer_norm``
``text_projection`` (width, embed)                             ``text_projection.weight``: its transpose
``logit_scale``                                                ``logit_scale``
``….resblocks.{i}.attn.in_proj_weight`` / ``_bias``            ``….layers.{i}.self_attn.{q,k,v}_proj``: its three row blocks
``….resblocks.{i}.attn.out_proj``                              ``….layers.{i}.self_attn.out_proj``
``….resblocks.{i}.ln_1`` / ``ln_2``                            ``….layers.{i}.layer_norm1`` / ``layer_norm2``
``….resblocks.{i}.mlp.c_fc`` / ``mlp.c_proj``                  ``….layers.{i}.mlp.fc1`` / ``mlp.fc2``
============================================================  ===========================================================

Both use QuickGELU, layer norms with eps 1e-5, pre-norm residual blocks, a causal mask in the text transformer and
attention scaled by head_dim ** -0.5. The geometry is read off the shapes as OpenAI's ``build_model`` reads it
(heads = width / 64). OpenAI pools the text at ``argmax`` of the token ids, the end-of-text token being the last id of
its vocabulary; the converted config names that id as ``eos_token_id``, at whose first occurrence ``CLIPModel`` pools,
which is the same position for any sequence holding it (the tokenizer is checked to agree).

The vocabulary is not in the checkpoint: it comes from OpenAI's BPE merges file (``bpe_simple_vocab_16e6.txt.gz``,
shipped with the openai/CLIP code and its descendants) or from a saved ``CLIPTokenizer`` folder. Without one,
conversion fails (``transformers`` would otherwise build a tokenizer of two tokens and every caption would become
unknown tokens).

Never imports ``benchmark``: where the converted folder is cached is the benchmark's business.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import pickle
import re
import tempfile
import warnings
import zipfile
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

#: The name of OpenAI's BPE merges file in the openai/CLIP code (``clip/``) and the code built on it.
BPE_FILE = "bpe_simple_vocab_16e6.txt.gz"
#: A folder of these files holds a saved ``CLIPTokenizer``.
TOKENIZER_FILES = (("tokenizer.json",), ("vocab.json", "merges.txt"))
#: Entries of TorchScript archives' state dicts that are metadata, not weights (dropped, as ``build_model`` does).
METADATA_KEYS = ("input_resolution", "context_length", "vocab_size")
#: The image normalisation of OpenAI's ``_transform`` (the CLIP image processor's defaults).
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
#: Written into every converted folder; raised when the conversion changes, so that caches keyed by it are rebuilt.
CONVERTER_VERSION = 1
SOURCE_FILE = "openai_checkpoint.json"
START, END = "<|startoftext|>", "<|endoftext|>"


class OpenAICheckpointError(ValueError):
    """A file that is not a convertible OpenAI CLIP checkpoint, or a tokenizer that does not fit it; the message
    is one line naming the file (and the key) and what to do."""


@dataclass(frozen=True)
class OpenAIGeometry:
    """The shape of an OpenAI CLIP ViT, as ``build_model`` infers it from a state dict."""

    embed_dim: int
    image_resolution: int
    patch_size: int
    channels: int
    vision_width: int
    vision_layers: int
    vision_heads: int
    vision_mlp: int
    context_length: int
    vocab_size: int
    text_width: int
    text_layers: int
    text_heads: int
    text_mlp: int


# ------------------------------------------------------------------------------------------ reading the file


class TorchScriptRefused(OpenAICheckpointError):
    """A TorchScript archive whose weights cannot be read without running it, and running it was not asked for."""


class _ScriptObject:
    """An object of a TorchScript archive's ``data.pkl`` as plain attributes: its class (code of the archive) is
    never looked at, let alone run."""


class _WeightsUnpickler(pickle.Unpickler):
    """Unpickles the ``data.pkl`` of a TorchScript archive into ``_ScriptObject``s holding tensors: only tensors,
    their storages, ordered dicts and TorchScript's own classes (as ``_ScriptObject``) are resolved; any other
    global (a function to call, a Python class) stops it."""

    def __init__(self, archive: zipfile.ZipFile, prefix: str):
        super().__init__(archive.open(f"{prefix}data.pkl"))
        self.archive, self.prefix = archive, prefix

    def find_class(self, module: str, name: str):
        if module == "__torch__" or module.startswith("__torch__."):
            return _ScriptObject
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return torch._utils._rebuild_tensor_v2
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch" and name.endswith("Storage") and isinstance(getattr(torch, name, None), type):
            return getattr(torch, name)
        raise pickle.UnpicklingError(f"it refers to {module}.{name}, which is not a tensor")

    def persistent_load(self, saved_id):
        kind, storage_type, key, _, _ = saved_id  # ("storage", torch.FloatStorage, "0", "cpu", numel)
        if kind != "storage":
            raise pickle.UnpicklingError(f"it refers to a {kind!r} record, not a storage")
        raw = bytearray(self.archive.read(f"{self.prefix}data/{key}"))
        untyped = torch.frombuffer(raw, dtype=torch.uint8).untyped_storage() if raw else torch.UntypedStorage(0)
        return torch.storage.TypedStorage(wrap_storage=untyped, dtype=storage_type.dtype, _internal=True)


def _torchscript_prefix(archive: zipfile.ZipFile) -> str | None:
    """The folder of a TorchScript archive's records (``ViT-B-32/``), or None when ``archive`` is not one (a
    ``torch.save`` archive has ``data.pkl`` but neither ``constants.pkl`` nor ``code/``)."""
    names = set(archive.namelist())
    for name in names:
        prefix = name[:-len("data.pkl")]
        if name.endswith("data.pkl") and prefix.count("/") == 1 and (
                f"{prefix}constants.pkl" in names or any(n.startswith(f"{prefix}code/") for n in names)):
            return prefix
    return None


def _script_tensors(obj: _ScriptObject, prefix: str = "", depth: int = 0) -> Iterator[tuple[str, torch.Tensor]]:
    """The tensors held by ``obj`` and the objects under it, named by their dotted path (as ``state_dict``)."""
    if depth > 64:  # no CLIP nests that deep; a pickle can make a cycle
        raise pickle.UnpicklingError("its modules nest more than 64 deep")
    for name, value in vars(obj).items():
        if isinstance(value, torch.Tensor):
            yield f"{prefix}{name}", value.detach()
        elif isinstance(value, _ScriptObject):
            yield from _script_tensors(value, f"{prefix}{name}.", depth + 1)


def _read_torchscript(path: Path, archive: zipfile.ZipFile, prefix: str, run_torchscript: bool) -> dict:
    """The state dict of TorchScript archive ``path``: its tensors read from ``data.pkl`` without running
    anything; if that fails, ``torch.jit.load`` only when ``run_torchscript`` (TorchScript is code), else
    TorchScriptRefused."""
    try:
        with warnings.catch_warnings():  # rebuilding from typed storages, as torch.load does, warns of their end
            warnings.simplefilter("ignore", UserWarning)
            root = _WeightsUnpickler(archive, prefix).load()
        if not isinstance(root, _ScriptObject):
            raise pickle.UnpicklingError(f"its data.pkl holds a {type(root).__name__}, not a module")
        return dict(_script_tensors(root))
    except (pickle.UnpicklingError, KeyError, ValueError, TypeError, AttributeError, EOFError, RuntimeError,
            zipfile.BadZipFile) as exc:  # what a malformed pickle or a missing record raises
        if not run_torchscript:
            raise TorchScriptRefused(f"OpenAI checkpoint {path} is a TorchScript archive whose weights cannot be "
                                     f"read without running its code ({_first_line(exc)[:200]})") from None
    try:
        with warnings.catch_warnings():  # torch.jit is deprecated, and still what some archives need
            warnings.simplefilter("ignore")
            return torch.jit.load(str(path), map_location="cpu").state_dict()
    except Exception as exc:  # noqa: BLE001 - TorchScript's reader raises its own kinds
        raise OpenAICheckpointError(f"cannot read OpenAI checkpoint {path} as TorchScript either "
                                    f"({_first_line(exc)[:200]}); download it again") from None


def read_openai_state_dict(path: str | Path, run_torchscript: bool = False) -> dict[str, torch.Tensor]:
    """The tensors of OpenAI checkpoint ``path`` (a TorchScript archive, else a ``torch.save``d state dict), on the
    CPU, metadata entries dropped. Nothing in the file is run: a TorchScript archive's tensors are read from its
    ``data.pkl`` by an unpickler that resolves nothing but tensors, and a state dict goes through ``torch.load``
    with ``weights_only=True``. Only an archive that reader cannot read is run through ``torch.jit.load``, and
    only when ``run_torchscript`` (the caller trusts the file); TorchScriptRefused otherwise."""
    path = Path(path)
    if not path.is_file():
        state = "is a folder" if path.is_dir() else "does not exist"
        raise OpenAICheckpointError(f"OpenAI checkpoint {path} {state}; give --backbone the .pt file (e.g. ViT-B-32.pt)")
    try:
        with zipfile.ZipFile(path) as archive:
            prefix = _torchscript_prefix(archive)
            state = _read_torchscript(path, archive, prefix, run_torchscript) if prefix else None
    except zipfile.BadZipFile:  # no zip: a state dict of torch < 1.6, or nothing readable
        state = None
    if state is None:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise OpenAICheckpointError(
                f"cannot read OpenAI checkpoint {path}: it is neither a TorchScript archive nor a state dict saved "
                f"with torch.save ({_first_line(exc)[:200]}); download it again") from None
    if not isinstance(state, Mapping) or not state:
        raise OpenAICheckpointError(f"OpenAI checkpoint {path} holds a {type(state).__name__}, not a state dict of "
                                    "CLIP's weights")
    tensors = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise OpenAICheckpointError(f"OpenAI checkpoint {path}: entry {key!r} is a {type(value).__name__}, not a "
                                        "tensor; give the state dict of an OpenAI CLIP model")
        if key not in METADATA_KEYS:
            tensors[str(key)] = value
    return tensors


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# ------------------------------------------------------------------------------------------ geometry and keys


#: The keys whose shapes give the geometry (with the numbers of blocks and their MLP widths).
GEOMETRY_KEYS = ("visual.conv1.weight", "visual.positional_embedding", "text_projection", "positional_embedding",
                 "token_embedding.weight", "ln_final.weight")


def _need(state: dict, key: str, path: Path, ndim: int) -> torch.Tensor:
    if key not in state:
        raise OpenAICheckpointError(f"OpenAI checkpoint {path}: key {key!r} is missing; not the state dict of an "
                                    "OpenAI CLIP ViT")
    value = state[key]
    if value.ndim != ndim:
        raise OpenAICheckpointError(f"OpenAI checkpoint {path}: key {key!r} has shape {tuple(value.shape)}, expected "
                                    f"{ndim} dimensions")
    return value


def _layers(state: dict, prefix: str, path: Path) -> int:
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    found = {int(m.group(1)) for key in state if (m := pattern.match(key))}
    if not found:
        raise OpenAICheckpointError(f"OpenAI checkpoint {path}: no key starts with {prefix!r}; not the state dict of "
                                    "an OpenAI CLIP ViT")
    missing = sorted(set(range(max(found) + 1)) - found)
    if missing:
        raise OpenAICheckpointError(f"OpenAI checkpoint {path}: the keys of {prefix}{missing[0]} are missing "
                                    f"(found blocks up to {max(found)})")
    return max(found) + 1


def _heads(width: int, key: str, path: Path) -> int:
    if width % 64:
        raise OpenAICheckpointError(f"OpenAI checkpoint {path}: key {key!r} gives a width of {width}, not a multiple "
                                    "of 64, so its number of heads (width / 64 in OpenAI's CLIP) is unknown")
    return width // 64


def openai_geometry(state: dict[str, torch.Tensor], path: str | Path = "<state dict>") -> OpenAIGeometry:
    """The geometry of the OpenAI CLIP ViT whose state dict is ``state``, read off the shapes as OpenAI's
    ``build_model`` reads it; OpenAICheckpointError naming ``path`` and the key when a key it needs is missing or
    mis-shaped. The other keys are checked by ``expected_shapes``."""
    path = Path(path)
    if "visual.proj" not in state and any(key.startswith("visual.layer1.") for key in state):
        raise OpenAICheckpointError(f"OpenAI checkpoint {path} is a ResNet CLIP (RN50 and the like), which "
                                    "transformers' CLIPModel cannot hold; use a ViT checkpoint (e.g. ViT-B-32.pt)")
    conv = _need(state, "visual.conv1.weight", path, 4)
    vision_positions = _need(state, "visual.positional_embedding", path, 2)
    projection = _need(state, "text_projection", path, 2)
    text_positions = _need(state, "positional_embedding", path, 2)
    tokens = _need(state, "token_embedding.weight", path, 2)
    text_width = _need(state, "ln_final.weight", path, 1).shape[0]
    vision_width, channels, patch_size = conv.shape[0], conv.shape[1], conv.shape[-1]
    grid = round((vision_positions.shape[0] - 1) ** 0.5)
    if grid < 1 or grid * grid + 1 != vision_positions.shape[0]:
        raise OpenAICheckpointError(f"OpenAI checkpoint {path}: key 'visual.positional_embedding' has "
                                    f"{vision_positions.shape[0]} positions, not a square grid of patches plus one")
    vision_layers = _layers(state, "visual.transformer.resblocks.", path)
    text_layers = _layers(state, "transformer.resblocks.", path)
    vision_mlp = _need(state, "visual.transformer.resblocks.0.mlp.c_fc.weight", path, 2).shape[0]
    text_mlp = _need(state, "transformer.resblocks.0.mlp.c_fc.weight", path, 2).shape[0]
    return OpenAIGeometry(
        embed_dim=projection.shape[1], image_resolution=patch_size * grid, patch_size=patch_size, channels=channels,
        vision_width=vision_width, vision_layers=vision_layers,
        vision_heads=_heads(vision_width, "visual.conv1.weight", path), vision_mlp=vision_mlp,
        context_length=text_positions.shape[0], vocab_size=tokens.shape[0], text_width=text_width,
        text_layers=text_layers, text_heads=_heads(text_width, "ln_final.weight", path), text_mlp=text_mlp)


def _block_shapes(prefix: str, width: int, mlp: int) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}attn.in_proj_weight": (3 * width, width), f"{prefix}attn.in_proj_bias": (3 * width,),
            f"{prefix}attn.out_proj.weight": (width, width), f"{prefix}attn.out_proj.bias": (width,),
            f"{prefix}ln_1.weight": (width,), f"{prefix}ln_1.bias": (width,),
            f"{prefix}mlp.c_fc.weight": (mlp, width), f"{prefix}mlp.c_fc.bias": (mlp,),
            f"{prefix}mlp.c_proj.weight": (width, mlp), f"{prefix}mlp.c_proj.bias": (width,),
            f"{prefix}ln_2.weight": (width,), f"{prefix}ln_2.bias": (width,)}


def expected_shapes(g: OpenAIGeometry) -> dict[str, tuple[int, ...]]:
    """Every key of an OpenAI CLIP ViT state dict of geometry ``g`` and its shape."""
    vw, tw = g.vision_width, g.text_width
    grid = g.image_resolution // g.patch_size
    shapes = {
        "visual.class_embedding": (vw,), "visual.positional_embedding": (grid * grid + 1, vw),
        "visual.conv1.weight": (vw, g.channels, g.patch_size, g.patch_size),
        "visual.ln_pre.weight": (vw,), "visual.ln_pre.bias": (vw,),
        "visual.ln_post.weight": (vw,), "visual.ln_post.bias": (vw,), "visual.proj": (vw, g.embed_dim),
        "token_embedding.weight": (g.vocab_size, tw), "positional_embedding": (g.context_length, tw),
        "ln_final.weight": (tw,), "ln_final.bias": (tw,), "text_projection": (tw, g.embed_dim), "logit_scale": (),
    }
    for i in range(g.vision_layers):
        shapes.update(_block_shapes(f"visual.transformer.resblocks.{i}.", vw, g.vision_mlp))
    for i in range(g.text_layers):
        shapes.update(_block_shapes(f"transformer.resblocks.{i}.", tw, g.text_mlp))
    return shapes


def check_state_dict(state: dict[str, torch.Tensor], g: OpenAIGeometry, path: str | Path = "<state dict>") -> None:
    """OpenAICheckpointError naming ``path`` and the first key that is missing, unexpected, mis-shaped or not
    floating point (with how many more are wrong)."""
    expected = expected_shapes(g)
    problems = [f"key {key!r} is missing" for key in expected if key not in state]
    problems += [f"key {key!r} has shape {tuple(state[key].shape)}, expected {shape} by the geometry read off "
                 f"{', '.join(GEOMETRY_KEYS)}" for key, shape in expected.items()
                 if key in state and tuple(state[key].shape) != shape]
    problems += [f"key {key!r} holds {state[key].dtype}, not floating-point weights"
                 for key in expected if key in state and not state[key].is_floating_point()]
    problems += [f"key {key!r} is not in OpenAI's CLIP ViT layout" for key in state if key not in expected]
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise OpenAICheckpointError(f"OpenAI checkpoint {path}: {problems[0]}{more}; give an unmodified OpenAI CLIP "
                                    "ViT checkpoint")


# ------------------------------------------------------------------------------------------ conversion


def _blocks(state: dict, source: str, target: str, layers: int) -> dict[str, torch.Tensor]:
    out = {}
    for i in range(layers):
        s, t = f"{source}{i}.", f"{target}{i}."
        for name, part in zip("qkv", state[f"{s}attn.in_proj_weight"].chunk(3, dim=0)):
            out[f"{t}self_attn.{name}_proj.weight"] = part
        for name, part in zip("qkv", state[f"{s}attn.in_proj_bias"].chunk(3, dim=0)):
            out[f"{t}self_attn.{name}_proj.bias"] = part
        pairs = {"attn.out_proj": "self_attn.out_proj", "ln_1": "layer_norm1", "ln_2": "layer_norm2",
                 "mlp.c_fc": "mlp.fc1", "mlp.c_proj": "mlp.fc2"}
        for old, new in pairs.items():
            out[f"{t}{new}.weight"] = state[f"{s}{old}.weight"]
            out[f"{t}{new}.bias"] = state[f"{s}{old}.bias"]
    return out


def convert_state_dict(state: dict[str, torch.Tensor], g: OpenAIGeometry) -> dict[str, torch.Tensor]:
    """OpenAI's keys renamed to ``CLIPModel``'s (see the module's table), in float32."""
    out = {
        "logit_scale": state["logit_scale"],
        "visual_projection.weight": state["visual.proj"].t(),
        "text_projection.weight": state["text_projection"].t(),
        "vision_model.embeddings.class_embedding": state["visual.class_embedding"],
        "vision_model.embeddings.patch_embedding.weight": state["visual.conv1.weight"],
        "vision_model.embeddings.position_embedding.weight": state["visual.positional_embedding"],
        "text_model.embeddings.token_embedding.weight": state["token_embedding.weight"],
        "text_model.embeddings.position_embedding.weight": state["positional_embedding"],
    }
    for old, new in {"visual.ln_pre": "vision_model.pre_layrnorm", "visual.ln_post": "vision_model.post_layernorm",
                     "ln_final": "text_model.final_layer_norm"}.items():
        out[f"{new}.weight"], out[f"{new}.bias"] = state[f"{old}.weight"], state[f"{old}.bias"]
    out.update(_blocks(state, "visual.transformer.resblocks.", "vision_model.encoder.layers.", g.vision_layers))
    out.update(_blocks(state, "transformer.resblocks.", "text_model.encoder.layers.", g.text_layers))
    return {key: value.detach().to(torch.float32).contiguous() for key, value in out.items()}


def clip_config(g: OpenAIGeometry, pad_token_id: int, logit_scale: float = 2.6592):
    """The ``CLIPConfig`` of geometry ``g``; the end-of-text token is the vocabulary's last id, as in OpenAI's."""
    from transformers import CLIPConfig

    common = dict(hidden_act="quick_gelu", layer_norm_eps=1e-5, projection_dim=g.embed_dim)
    return CLIPConfig(
        text_config=dict(vocab_size=g.vocab_size, hidden_size=g.text_width, intermediate_size=g.text_mlp,
                         num_hidden_layers=g.text_layers, num_attention_heads=g.text_heads,
                         max_position_embeddings=g.context_length, bos_token_id=g.vocab_size - 2,
                         eos_token_id=g.vocab_size - 1, pad_token_id=pad_token_id, **common),
        vision_config=dict(hidden_size=g.vision_width, intermediate_size=g.vision_mlp,
                           num_hidden_layers=g.vision_layers, num_attention_heads=g.vision_heads,
                           image_size=g.image_resolution, patch_size=g.patch_size, num_channels=g.channels, **common),
        projection_dim=g.embed_dim, logit_scale_init_value=logit_scale)


def openai_clip_model(state: dict[str, torch.Tensor], path: str | Path = "<state dict>", pad_token_id: int | None = None):
    """``(CLIPModel, geometry)`` holding the weights of OpenAI state dict ``state`` (checked first), float32."""
    from transformers import CLIPModel

    g = openai_geometry(state, path)
    check_state_dict(state, g, path)
    weights = convert_state_dict(state, g)
    config = clip_config(g, g.vocab_size - 1 if pad_token_id is None else pad_token_id,
                         float(weights["logit_scale"]))
    with torch.random.fork_rng(devices=[]):  # transformers initialises from the global state: keep it untouched
        model = CLIPModel(config)
    model.load_state_dict(weights, strict=True)
    return model.eval(), g


# ------------------------------------------------------------------------------------------ the tokenizer


def is_tokenizer_folder(folder: Path) -> bool:
    """Whether ``folder`` holds the files of a saved ``CLIPTokenizer``."""
    return Path(folder).is_dir() and any(all((Path(folder) / name).is_file() for name in names)
                                         for names in TOKENIZER_FILES)


def find_tokenizer(checkpoint: str | Path) -> Path | None:
    """The tokenizer that goes with ``checkpoint``, looked for next to it: a folder ``tokenizer/`` holding a saved
    ``CLIPTokenizer``, the checkpoint's own folder holding one, or OpenAI's ``bpe_simple_vocab_16e6.txt.gz``;
    None when there is none."""
    folder = Path(checkpoint).parent
    for candidate in (folder / "tokenizer", folder):
        if is_tokenizer_folder(candidate):
            return candidate
    return folder / BPE_FILE if (folder / BPE_FILE).is_file() else None


def tokenizer_hash(source: str | Path) -> str:
    """SHA-256 of the tokenizer files of ``source`` (a merges file, or a tokenizer folder's files)."""
    source = Path(source)
    digest = hashlib.sha256()
    files = [source] if source.is_file() else sorted(
        p for p in source.iterdir() if p.is_file() and (p.name.endswith(".json") or p.name.endswith(".txt")))
    for file in files:
        digest.update(f"{file.name}:{file.stat().st_size}:".encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def _byte_characters() -> list[str]:
    """The characters standing for the 256 bytes in byte-level BPE (GPT-2's table, which OpenAI's CLIP tokenizer
    uses), in its order: the printable bytes as themselves, then the others as chr(256 + n) in byte order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    return [chr(b) for b in printable] + [chr(256 + n) for n in range(len(others))]


def bpe_vocabulary(merges_file: str | Path, vocab_size: int) -> tuple[dict[str, int], list[str]]:
    """``(vocab, merges)`` of OpenAI's tokenizer from its merges file, as its ``SimpleTokenizer`` builds them: the
    256 byte characters, the same with ``</w>``, one token per merge, then ``<|startoftext|>`` and ``<|endoftext|>``;
    as many merges as ``vocab_size`` leaves room for (48,894 for OpenAI's 49,408 tokens)."""
    merges_file = Path(merges_file)
    try:
        raw = merges_file.read_bytes()
        text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as exc:
        raise OpenAICheckpointError(f"cannot read OpenAI's BPE merges file {merges_file}: {_first_line(exc)}") from None
    wanted = vocab_size - 2 * 256 - 2
    merges = text.split("\n")[1:1 + wanted]
    if len(merges) < wanted or any(len(line.split()) != 2 for line in merges):
        raise OpenAICheckpointError(f"BPE merges file {merges_file} has {sum(len(m.split()) == 2 for m in merges)} "
                                    f"merges after its header, the checkpoint's vocabulary of {vocab_size} tokens "
                                    f"needs {wanted}; give the bpe_simple_vocab_16e6.txt.gz of the openai/CLIP code")
    characters = _byte_characters()
    tokens = characters + [c + "</w>" for c in characters] + ["".join(m.split()) for m in merges] + [START, END]
    return {token: i for i, token in enumerate(tokens)}, merges


def load_clip_tokenizer(source: str | Path, vocab_size: int):
    """A ``CLIPTokenizer`` from ``source`` (OpenAI's merges file, or a folder of a saved ``CLIPTokenizer``), checked
    to fit a checkpoint of ``vocab_size`` tokens: the same size, ``<|startoftext|>`` and ``<|endoftext|>`` its last
    two ids (OpenAI pools the text at the highest id)."""
    from transformers import CLIPTokenizer

    source = Path(source)
    try:
        if source.is_file():
            vocab, merges = bpe_vocabulary(source, vocab_size)
            with tempfile.TemporaryDirectory() as tmp:
                (Path(tmp) / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
                (Path(tmp) / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
                tokenizer = CLIPTokenizer.from_pretrained(tmp, local_files_only=True)
        elif is_tokenizer_folder(source):
            tokenizer = CLIPTokenizer.from_pretrained(source, local_files_only=True)
        else:
            raise OpenAICheckpointError(f"tokenizer {source} is neither OpenAI's {BPE_FILE} nor a folder holding "
                                        "tokenizer.json or vocab.json and merges.txt")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, OpenAICheckpointError):
            raise
        raise OpenAICheckpointError(f"cannot load the CLIP tokenizer {source}: {_first_line(exc)}") from None
    ids = tokenizer.convert_tokens_to_ids([START, END])
    if len(tokenizer) != vocab_size or ids != [vocab_size - 2, vocab_size - 1] or tokenizer.eos_token_id != ids[1]:
        raise OpenAICheckpointError(
            f"tokenizer {source} does not fit the checkpoint: {len(tokenizer)} tokens with {START} at {ids[0]} and "
            f"{END} at {ids[1]} (end of text: {tokenizer.eos_token_id}), the checkpoint has {vocab_size} tokens "
            f"ending with {vocab_size - 2} and {vocab_size - 1}; give the tokenizer of OpenAI's CLIP")
    return tokenizer


# ------------------------------------------------------------------------------------------ the folder


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's content, read in 8 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(8 << 20):
            digest.update(block)
    return digest.hexdigest()


def openai_image_processor(resolution: int):
    """The CLIP image processor doing what OpenAI's ``_transform`` does: bicubic resize of the shorter side to
    ``resolution``, centre crop, OpenAI's mean and standard deviation."""
    from .backbone import _image_processor_class

    return _image_processor_class()(size={"shortest_edge": resolution},
                                    crop_size={"height": resolution, "width": resolution}, do_center_crop=True,
                                    resample=3, image_mean=list(OPENAI_MEAN), image_std=list(OPENAI_STD))


def convert_openai_checkpoint(checkpoint: str | Path, folder: str | Path, tokenizer: str | Path,
                              checkpoint_sha256: str | None = None, run_torchscript: bool = False) -> Path:
    """Convert OpenAI checkpoint ``checkpoint`` with the tokenizer ``tokenizer`` (see ``load_clip_tokenizer``) into
    ``folder`` (model, tokenizer and image processor through ``save_pretrained``, plus ``openai_checkpoint.json``
    saying what it came from); OpenAICheckpointError with one line naming the file otherwise.
    ``run_torchscript``: see ``read_openai_state_dict``."""
    from .backbone import save_backbone

    checkpoint, folder = Path(checkpoint), Path(folder)
    state = read_openai_state_dict(checkpoint, run_torchscript)
    g = openai_geometry(state, checkpoint)
    check_state_dict(state, g, checkpoint)
    clip_tokenizer = load_clip_tokenizer(tokenizer, g.vocab_size)
    model, g = openai_clip_model(state, checkpoint, pad_token_id=clip_tokenizer.pad_token_id)
    clip_tokenizer.model_max_length = g.context_length
    save_backbone(folder, model, clip_tokenizer, openai_image_processor(g.image_resolution))
    source = {"converter_version": CONVERTER_VERSION, "checkpoint": checkpoint.name,
              "checkpoint_sha256": checkpoint_sha256 or file_sha256(checkpoint),
              "tokenizer": Path(tokenizer).name, "tokenizer_sha256": tokenizer_hash(tokenizer), "geometry": asdict(g)}
    (folder / SOURCE_FILE).write_text(json.dumps(source, indent=1) + "\n", encoding="utf-8")
    return folder
