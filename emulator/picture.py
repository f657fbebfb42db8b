"""The picture an emulated camera shows: its name, a moving pattern and a clock line.

Pure drawing (numpy + Pillow), no I/O. The RTSP video encoder calls it for every
frame of its loop; the ONVIF snapshot uses it for its JPEG.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

_FONT_FILES = (
    "DejaVuSansMono-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",
    "LiberationMono-Bold.ttf",
)


@functools.lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for name in _FONT_FILES:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1 ships a scalable font
    except TypeError:
        return ImageFont.load_default()


@functools.lru_cache(maxsize=8)
def _background(width: int, height: int) -> np.ndarray:
    """A colour gradient twice as wide as the picture, so scrolling is a slice."""
    x = np.linspace(0.0, 4.0 * math.pi, 2 * width, endpoint=False)
    y = np.linspace(0.0, 1.0, height)[:, None]
    red = 90 + 60 * np.sin(x)[None, :] + 40 * y
    green = 90 + 60 * np.sin(x + 2.1)[None, :] + 20 * y
    blue = 110 + 60 * np.sin(x + 4.2)[None, :] - 30 * y
    return np.clip(np.stack([red, green, blue], axis=-1), 0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=8)
def _texture(width: int, height: int) -> np.ndarray:
    """Fixed pseudo-random detail, so the encoder has real texture to spend bits on."""
    rng = np.random.default_rng(width * 7919 + height)
    return rng.integers(0, 64, size=(height, 2 * width, 1), dtype=np.uint8)


CLOCK_BITS = 32  # the low 32 bits of the UTC time in ms (wraps every 49 days)


def clock_block_size(width: int) -> int:
    """Side of one block of the machine-readable clock row."""
    return max(width // (CLOCK_BITS + 8), 8)


def draw_clock_blocks(draw: ImageDraw.ImageDraw, width: int, clock_ms: int) -> None:
    """A row of square blocks along the top edge: white, then the low 32 bits of
    `clock_ms` (most significant first, white = 1), then black. A viewer reads them
    back from the decoded picture to measure glass-to-glass latency."""
    side = clock_block_size(width)
    bits = [1] + [(clock_ms >> (CLOCK_BITS - 1 - i)) & 1 for i in range(CLOCK_BITS)] + [0]
    for i, bit in enumerate(bits):
        colour = (255, 255, 255) if bit else (0, 0, 0)
        draw.rectangle((i * side, 0, (i + 1) * side - 1, side - 1), fill=colour)


def draw_picture(
    name: str,
    width: int,
    height: int,
    frame_index: int,
    fps: int,
    clock_text: str,
    clock_ms: int | None = None,
) -> Image.Image:
    """Frame `frame_index` of camera `name`: moves every frame, repeats never within a
    loop; with `clock_ms`, the time also as a row of blocks (`draw_clock_blocks`)."""
    fps = max(fps, 1)
    shift = (frame_index * 4) % width
    base = _background(width, height)[:, shift : shift + width]
    detail = _texture(width, height)[:, shift : shift + width]
    pixels = base // 4 * 3 + detail  # <= 191 + 63: no overflow in uint8
    image = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(image)

    # A box that bounces across the picture: motion a viewer (and a test) can see.
    box = max(height // 6, 8)
    period = 4 * fps
    phase = (frame_index % period) / period
    travel = width - box
    left = int(travel * (2 * phase if phase < 0.5 else 2 - 2 * phase))
    top = height // 2 - box // 2
    draw.rectangle((left, top, left + box, top + box), fill=(250, 250, 250), outline=(0, 0, 0))

    big = _font(max(height // 12, 10))
    small = _font(max(height // 20, 8))
    margin = max(width // 64, 4)
    line = max(height // 10, 12)
    for dx, dy, colour in ((2, 2, (0, 0, 0)), (0, 0, (255, 255, 255))):
        draw.text((margin + dx, margin + dy), name, font=big, fill=colour)
        draw.text((margin + dx, margin + line + dy), clock_text, font=small, fill=colour)
        frame_text = f"frame {frame_index}  {frame_index // fps:>4d}s+{frame_index % fps:02d}"
        draw.text((margin + dx, height - line + dy), frame_text, font=small, fill=colour)
    if clock_ms is not None:
        draw_clock_blocks(draw, width, clock_ms)
    return image
