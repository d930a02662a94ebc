"""Image folders with one sub-folder per class; decoding shared by image sets."""

import io
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

__all__ = ["load_image_folder"]

_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")

# The largest side an image may be resized to: 1024 x 1024 float32 is 4 MB an
# image already, and no Siamese encoder of this package needs more.
MAX_IMAGE_SIDE = 1024


def pil_image(caller):
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            f"{caller} needs Pillow to decode images. Install it with "
            "`pip install Pillow` (or `pip install 'sksiamese[plot]'`)."
        ) from None
    return Image


def check_image_size(image_size):
    """``(height, width)`` from ``image_size`` (int, pair of ints or None)."""
    if image_size is None:
        return None
    if isinstance(image_size, Integral) and not isinstance(image_size, bool):
        size = (int(image_size), int(image_size))
    elif (
        isinstance(image_size, (tuple, list))
        and len(image_size) == 2
        and all(isinstance(s, Integral) and not isinstance(s, bool) for s in image_size)
    ):
        size = (int(image_size[0]), int(image_size[1]))
    else:
        size = None
    if size is None or min(size) < 1:
        raise ValueError(
            "image_size must be a positive int, a pair (height, width) of "
            f"positive ints, or None for the original size; got {image_size!r}."
        )
    if max(size) > MAX_IMAGE_SIDE:
        raise ValueError(
            f"image_size sides must be at most {MAX_IMAGE_SIDE} pixels; got "
            f"{image_size!r}. Pass a smaller size (28 to 224 is usual), or None "
            "for the images' own size."
        )
    return size


def _resize(Image, img, size):
    if size is not None and img.size != (size[1], size[0]):
        # BOX averages the pixels each output pixel covers: the right filter
        # for shrinking line drawings, and exact for 1-bit input.
        img = img.resize((size[1], size[0]), Image.Resampling.BOX)
    return img


def decode(Image, raw, size, mode="L", name=""):
    """uint8 pixels of one image of a data set, converted and resized to ``size``.

    The image's size is read from its header and bounded before its pixels are
    decoded: a small compressed file can hold a huge plain image.
    """
    try:
        with Image.open(io.BytesIO(raw)) as img:
            if max(img.size) > MAX_IMAGE_SIDE:
                raise ValueError(
                    f"The image {name} is {img.width}x{img.height} pixels, more "
                    f"than the {MAX_IMAGE_SIDE} a side any image of the data set "
                    "has: the archive is not the release's file."
                )
            return np.asarray(_resize(Image, img.convert(mode), size), dtype=np.uint8)
    except OSError as exc:
        raise OSError(f"Cannot decode the image {name}: {exc}") from exc


def _decode_unit(Image, raw, size, mode, name):
    """float32 pixels in [0, 1] of one image, whatever its bit depth.

    8-bit images are scaled by 255, 16-bit ones by 65535, and float images are
    taken as they are once checked to lie in [0, 1]: converting those to 8-bit
    first would clip mid-grey to white (16-bit) or round it to black (float).
    """
    try:
        with Image.open(io.BytesIO(raw)) as img:
            if img.mode.startswith("I;16") or (img.mode == "I" and img.format == "PNG"):
                scale = 65535  # PNG has no 32-bit depth: "I" is a 16-bit PNG.
            elif img.mode == "F":
                scale = 1
            elif img.mode == "I":
                raise ValueError(
                    f"The image {name} holds 32-bit integers, whose range is "
                    "unknown; save it with 8 or 16 bits per channel, or as "
                    "floats in [0, 1]."
                )
            else:
                return np.asarray(
                    _resize(Image, img.convert(mode), size), dtype=np.float32
                ) / np.float32(255)
            values = np.asarray(img, dtype=np.float32) / np.float32(scale)
    except OSError as exc:
        raise OSError(f"Cannot decode the image {name}: {exc}") from exc
    if not (np.isfinite(values).all() and 0 <= values.min() and values.max() <= 1):
        raise ValueError(
            f"The image {name} holds float values outside [0, 1] (from "
            f"{values.min()} to {values.max()}); rescale it to [0, 1] or save it "
            "with 8 or 16 bits per channel."
        )
    grey = np.asarray(_resize(Image, Image.fromarray(values), size))
    return grey if mode == "L" else np.repeat(grey[..., None], 3, axis=-1)


def stack(pixels, names):
    shapes = {p.shape for p in pixels}
    if len(shapes) > 1:
        first = pixels[0].shape
        odd = next(i for i, p in enumerate(pixels) if p.shape != first)
        raise ValueError(
            f"The images have different sizes ({names[0]}: {first[:2]}, "
            f"{names[odd]}: {pixels[odd].shape[:2]}); pass image_size=(height, "
            "width) to resize them all to one size."
        )
    return np.stack(pixels)


def ink(pixels):
    """float32 with ink as 1.0 from uint8 pixels with black ink on white."""
    return (255 - pixels).astype(np.float32) / np.float32(255)


def _check_extensions(extensions):
    if isinstance(extensions, str):
        extensions = (extensions,)
    try:
        suffixes = tuple(extensions)
    except TypeError:
        suffixes = None
    if not suffixes or not all(
        isinstance(e, str) and e.startswith(".") for e in suffixes
    ):
        raise ValueError(
            "extensions must be a file name ending such as '.png', or a tuple "
            f"of them, each starting with a dot; got {extensions!r}."
        )
    return tuple(e.lower() for e in suffixes)


def load_image_folder(
    path,
    *,
    image_size=None,
    color_mode="grayscale",
    invert=False,
    extensions=_IMAGE_EXTENSIONS,
    return_X_y=False,
):
    """Load images from a folder with one sub-folder per class.

    ``path/cat/1.png``, ``path/cat/2.png``, ``path/dog/a.jpg``, ... become
    samples of the classes ``"cat"`` and ``"dog"``, in the layout of
    ``torchvision.datasets.ImageFolder``. Images in nested folders inside a
    class folder belong to that class; hidden files and folders are skipped,
    and so are class folders with no images.

    Pixel values are scaled by the range of each image's own format: 8-bit
    images by 255, 16-bit ones by 65535; float images (TIFF) are taken as
    they are and must lie in [0, 1].

    Parameters
    ----------
    path : str or path-like
        The folder holding the class folders.
    image_size : int or tuple (height, width) or None, default=None
        Size to resize every image to, at most 1024 a side. ``None`` keeps
        the images' size, which must then be the same for all.
    color_mode : {"grayscale", "rgb"}, default="grayscale"
        ``"grayscale"`` gives images of shape ``(height, width)``, ``"rgb"``
        of shape ``(height, width, 3)``.
    invert : bool, default=False
        If True, return ``1 - value``, so that dark ink on light paper is 1.0
        on 0.0 (as in :func:`fetch_omniglot`).
    extensions : str or tuple of str, default=(".png", ".jpg", ".jpeg", \
            ".bmp", ".gif", ".tif", ".tiff", ".webp")
        File name endings (case-insensitive) that count as images; a single
        string is one ending.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    dataset : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        images : ndarray of shape (n_samples, height, width[, 3]), dtype float32
            Pixel values between 0 and 1.
        data : ndarray of shape (n_samples, n_features), dtype float32
            The images flattened (a view of ``images``).
        target : ndarray of shape (n_samples,)
            Class id: the index of the class folder in ``target_names``.
        target_names : ndarray of shape (n_classes,)
            The class folders' names, sorted.
        filenames : ndarray of shape (n_samples,)
            Each image's path.
        DESCR : str
            Description of the data set.

    (data, target) : tuple if ``return_X_y`` is True

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> from sksiamese.datasets import load_image_folder
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for label in ["circle", "square"]:
    ...     (root / label).mkdir()
    ...     for i in range(3):
    ...         Image.new("L", (16, 16), color=80 * i).save(root / label / f"{i}.png")
    >>> images = load_image_folder(root, image_size=8)
    >>> images.images.shape, images.target_names.tolist()
    ((6, 8, 8), ['circle', 'square'])
    """
    if color_mode not in ("grayscale", "rgb"):
        raise ValueError(
            f"color_mode must be 'grayscale' or 'rgb'; got {color_mode!r}."
        )
    size = check_image_size(image_size)
    suffixes = _check_extensions(extensions)
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(
            f"{root} is not a folder. load_image_folder expects a folder with "
            "one sub-folder of images per class."
        )
    classes, files = [], []
    for folder in sorted(
        p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
    ):
        found = sorted(
            p
            for p in folder.rglob("*")
            if p.is_file()
            and p.suffix.lower() in suffixes
            and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        )
        if found:
            files.append(found)
            classes.append(folder.name)
    if not classes:
        raise ValueError(
            f"{root} has no class folders with images (ending in "
            f"{', '.join(suffixes)}). Put the images of each class in a "
            f"sub-folder named after the class, as in {root / 'cat' / '1.png'}."
        )
    Image = pil_image("load_image_folder")
    mode = "L" if color_mode == "grayscale" else "RGB"
    names = [p for found in files for p in found]
    images = stack(
        [_decode_unit(Image, p.read_bytes(), size, mode, str(p)) for p in names],
        [str(p) for p in names],
    )
    if invert:
        images = 1 - images
    target = np.repeat(np.arange(len(classes)), [len(f) for f in files])
    data = images.reshape(len(images), -1)
    if return_X_y:
        return data, target
    shape = "x".join(map(str, images.shape[1:]))
    return Bunch(
        images=images,
        data=data,
        target=target,
        target_names=np.array(classes),
        filenames=np.array([str(p) for p in names]),
        DESCR=(
            f"Images from {root}: {len(images)} images of shape {shape} "
            f"in {len(classes)} classes ({', '.join(classes)})."
        ),
    )
