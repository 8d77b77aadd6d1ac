"""Frames for Meta's SAM2 predictor, read lazily, and one frame's image features computed ahead.

Private to :mod:`annotator_widgets.backends.sam2_meta`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from ._optional import require

if TYPE_CHECKING:
    from ..video import VideoSource

__all__ = ["LazyFrames", "image_features"]

_IMG_MEAN = (0.485, 0.456, 0.406)
_IMG_STD = (0.229, 0.224, 0.225)


def image_features(predictor: Any, images: Any, frame: int, device: Any, ctx: Any) -> tuple[Any, Any]:
    """``(image, backbone_out)`` of one frame, exactly as ``SAM2VideoPredictor._get_image_feature``
    computes and caches them on a miss (``inference_state["cached_features"][frame]``)."""
    torch = require("torch")
    with torch.inference_mode(), ctx:
        image = images[frame].to(device).float().unsqueeze(0)
        return image, predictor.forward_image(image)


class LazyFrames:
    """What ``inference_state["images"]`` needs: ``len()`` and ``[i]`` -> normalised ``(3, S, S)`` float32.

    Matches ``sam2.utils.misc.load_video_frames_from_jpg_images`` bit for bit: PIL resize of the
    RGB frame to ``S x S``, /255 in float64, cast to float32, then mean/std in float32.

    Upstream decodes the whole video before tracking starts; here each frame is decoded when
    first asked for, and the next ``prefetch`` frames in the direction of travel are prepared
    on a background thread while the model works on the current one, so decoding stays off
    the propagation loop's critical path. At most ``cache_frames + prefetch`` frames are held.
    """

    def __init__(self, video: VideoSource, image_size: int, device: Any, cache_frames: int, prefetch: int = 2) -> None:
        torch = require("torch")
        self._video = video
        self._size = int(image_size)
        self._device = device
        self._mean = torch.tensor(_IMG_MEAN, dtype=torch.float32)[:, None, None].to(device)
        self._std = torch.tensor(_IMG_STD, dtype=torch.float32)[:, None, None].to(device)
        self._cache: OrderedDict[int, Any] = OrderedDict()
        self._max = max(1, int(cache_frames))
        self._prefetch = max(0, int(prefetch))
        self._pending: dict[int, Future[Any]] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._last: int | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._video)

    def _load(self, i: int) -> Any:
        torch = require("torch")
        from PIL import Image

        rgb = np.asarray(self._video.frame(i))
        resized = np.array(Image.fromarray(rgb).convert("RGB").resize((self._size, self._size)))
        img = torch.from_numpy(resized / 255.0).permute(2, 0, 1).to(torch.float32).to(self._device)
        img -= self._mean
        img /= self._std
        return img

    def __getitem__(self, index: int) -> Any:
        i = int(index)
        with self._lock:
            img = self._cache.get(i)
            if img is not None:
                self._cache.move_to_end(i)
            pending = self._pending.pop(i, None)
            step = -1 if self._last is not None and i < self._last else 1
            self._last = i
        if img is None:
            img = pending.result() if pending is not None else self._load(i)
            with self._lock:
                self._cache[i] = img
                while len(self._cache) > self._max:
                    self._cache.popitem(last=False)
        self._schedule(i, step)
        return img

    def _schedule(self, i: int, step: int) -> None:
        if not self._prefetch:
            return
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="sam2-frames")
            ahead = [i + step * k for k in range(1, self._prefetch + 1)]
            for j in [j for j in self._pending if j not in ahead]:
                self._pending.pop(j).cancel()  # a jump or a change of direction: drop stale work
            for j in ahead:
                if 0 <= j < len(self._video) and j not in self._cache and j not in self._pending:
                    self._pending[j] = self._pool.submit(self._load, j)

    def clear(self) -> None:
        with self._lock:
            for fut in self._pending.values():
                fut.cancel()
            self._pending.clear()
            self._cache.clear()
            self._last = None
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
