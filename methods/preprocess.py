"""Turning captions and images into CLIP inputs: token ids padded/truncated to ``max_text_len``, and pixel
tensors prepared the way the backbone's image processor says, by a loader whose worker processes decode and
crop images ahead of the model (``image_batches``)."""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

DEFAULT_MAX_TEXT_LEN = 32

#: Batches each loader worker prepares ahead of the one being consumed (``DataLoader``'s ``prefetch_factor``).
PREFETCH_BATCHES = 2

#: The largest absolute difference from the image processor's ``pixel_values`` (tests/test_pipeline.py): crops
#: are identical, the rescale and normalisation round in float32 in another order (one unit in the last place).
PROCESSOR_TOLERANCE = 1e-6


def tokenize(tokenizer, texts: list[str], max_length: int = DEFAULT_MAX_TEXT_LEN) -> dict[str, torch.Tensor]:
    """``input_ids`` and ``attention_mask`` ``(n, max_length)``, padded and truncated to ``max_length``."""
    encoded = tokenizer(list(texts), padding="max_length", truncation=True, max_length=max_length,
                        return_tensors="pt")
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}


class UnreadableImage(ValueError):
    """An image file that cannot be opened or decoded (missing, truncated, not an image); ``str`` is one line
    naming it. It survives pickling, so that a loader worker can hand it back."""

    def __init__(self, path, reason):
        reason = str(reason).strip().splitlines()[0] if str(reason).strip() else type(reason).__name__
        super().__init__(str(path), reason)
        self.path, self.reason = str(path), reason

    def __str__(self) -> str:
        return f"cannot read image {self.path}: {self.reason}"


class ImageTransform:
    """What CLIP's image processor does to an image, in two stages so that the costly one can run in loader
    workers and the other on the model's device:

    - ``crop``: an image (file path, PIL image or uint8 array ``(h, w, 3)``) as a uint8 crop ``(H, W, 3)``:
      converted to RGB (transparency composited onto white), resized with the processor's filter (bicubic for
      CLIP) so that its shortest edge is the processor's ``shortest_edge`` (or to its height x width), then
      center-cropped to ``crop_size``; the processor's own steps, without its per-image conversions.
    - ``normalise``: uint8 crops ``(n, H, W, 3)`` as float pixel tensors ``(n, 3, H, W)``, rescaled and
      normalised with the processor's mean and std, on whatever device the crops are.

    Arrays already at the crop size skip the first stage. ``transform(images)`` does both; it equals the
    processor's ``pixel_values`` to within ``PROCESSOR_TOLERANCE``.
    """

    def __init__(self, processor):
        size, crop, edge = processor.size, processor.crop_size, processor.size.get("shortest_edge")
        self.resize = edge if edge is not None else (size.get("height"), size.get("width"))
        smallest = (edge, edge) if edge is not None else self.resize  # the smallest a resized image can be
        self.size = (crop.get("height"), crop.get("width")) if processor.do_center_crop else smallest
        unsupported = [what for what, bad in (
            ("no resize", not processor.do_resize), ("no rescale", not processor.do_rescale),
            ("no normalisation", not processor.do_normalize), ("a longest_edge", size.get("longest_edge")),
            ("neither a shortest_edge nor a height and width", None in smallest),
            ("a shortest_edge but no center crop", edge is not None and not processor.do_center_crop),
            ("a crop larger than the resized image", None not in smallest + self.size and (
                self.size[0] > smallest[0] or self.size[1] > smallest[1]))) if bad]
        if unsupported:
            raise ValueError(f"image processor {type(processor).__name__} has {', '.join(unsupported)}: only "
                             "CLIP's processing (resize, center crop, rescale, normalise) is supported")
        self.resample, self.scale = processor.resample, processor.rescale_factor
        self.mean = torch.tensor(processor.image_mean).view(1, 3, 1, 1)
        self.std = torch.tensor(processor.image_std).view(1, 3, 1, 1)

    def __call__(self, images) -> torch.Tensor:
        """Float pixel tensors ``(n, 3, H, W)`` of a batch: a uint8 array ``(n, h, w, 3)`` or file paths."""
        return self.normalise(torch.from_numpy(self.crops(images)))

    def cropped(self, images) -> bool:
        """Whether ``images`` are already crops: a uint8 array ``(n, H, W, 3)`` at the crop size."""
        return isinstance(images, np.ndarray) and images.shape[1:3] == self.size

    def crops(self, images) -> np.ndarray:
        """uint8 crops ``(n, H, W, 3)`` of a batch of images (an array at the crop size is returned as is)."""
        if self.cropped(images):
            return np.ascontiguousarray(images)
        return np.stack([self.crop(image) for image in images])

    def crop(self, image) -> np.ndarray:
        """The uint8 crop ``(H, W, 3)`` of one image: a file path, a PIL image or a uint8 array ``(h, w, 3)``."""
        if isinstance(image, np.ndarray):
            return self._crop(Image.fromarray(image))
        if isinstance(image, Image.Image):
            return self._crop(image)
        try:
            with Image.open(image) as opened:
                opened.load()  # decoded here, so that a damaged file is told apart from a failing crop
                return self._crop(opened)
        except (OSError, SyntaxError) as exc:  # PIL's plugins raise SyntaxError for some malformed headers
            raise UnreadableImage(image, exc) from exc

    def _crop(self, image: Image.Image) -> np.ndarray:
        image = _rgb(image)
        width, height = image.size
        if isinstance(self.resize, int):  # the shortest edge to ``resize``, the other truncated as the processor does
            short, long = sorted((width, height))
            new_short, new_long = self.resize, int(self.resize * long / short)
            height, width = (new_long, new_short) if width <= height else (new_short, new_long)
        else:
            height, width = self.resize
        pixels = np.asarray(image.resize((width, height), resample=self.resample))
        top, left = (height - self.size[0]) // 2, (width - self.size[1]) // 2
        return pixels[top:top + self.size[0], left:left + self.size[1]]

    def normalise(self, pixels: torch.Tensor) -> torch.Tensor:
        """Float pixel tensors ``(n, 3, H, W)`` of uint8 crops ``(n, H, W, 3)``, on their device."""
        mean, std = self.mean.to(pixels.device), self.std.to(pixels.device)
        return (pixels.permute(0, 3, 1, 2).float() * self.scale - mean) / std


class _Crops(Dataset):
    """Item ``i``: the uint8 crops ``(n_i, H, W, 3)`` of ``images[batches[i]]`` (one worker does a whole batch)."""

    def __init__(self, images: Sequence, batches: list[np.ndarray], transform: ImageTransform):
        self.images, self.batches, self.transform = images, batches, transform

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> torch.Tensor | UnreadableImage:
        try:
            return torch.from_numpy(self.transform.crops([self.images[j] for j in self.batches[i]]))
        except UnreadableImage as exc:  # returned, not raised: a worker's exception comes back as its traceback
            return exc


def image_batches(images: Sequence, batches: list[np.ndarray], transform: ImageTransform, workers: int = 0,
                  pin_memory: bool = False) -> Iterator[torch.Tensor]:
    """The uint8 crops ``(n, H, W, 3)`` of ``images[batch]`` for each batch of ``batches`` (index arrays), in
    order: ``images`` are file paths or a uint8 array ``(N, h, w, 3)``.

    ``workers`` processes decode and crop whole batches, ``PREFETCH_BATCHES`` each ahead of the consumer (0: in
    this process, as they are consumed); the result does not depend on their number. ``pin_memory``: crops come
    in page-locked memory, for asynchronous copies to a GPU. An array already at the crop size is sliced here,
    with no worker. No draw touches torch's global random state. A file that cannot be decoded raises
    ``UnreadableImage`` here, from whichever process read it."""
    if transform.cropped(images):
        return (torch.from_numpy(images[batch]) for batch in batches)
    loader = DataLoader(_Crops(images, batches, transform), batch_size=None, num_workers=workers,
                        pin_memory=pin_memory, prefetch_factor=PREFETCH_BATCHES if workers else None,
                        generator=torch.Generator())  # the loader's seed is drawn from this one, not the global one
    return _raising(loader)


def _raising(loader: DataLoader) -> Iterator[torch.Tensor]:
    """The crops of ``loader``, raising here the ``UnreadableImage`` a worker returned."""
    for crops in loader:
        if isinstance(crops, UnreadableImage):
            raise crops
        yield crops


def _rgb(image: Image.Image) -> Image.Image:
    """``image`` in RGB as the image processor converts it: transparency composited onto white."""
    if "A" in image.getbands() or image.info.get("transparency") is not None:
        image = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", image.size, (255, 255, 255, 255)), image).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")  # the processor's convert of RGB is a copy
