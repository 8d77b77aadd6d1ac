"""Build MediaPipe's hand landmarker bundle (``.task``) offline from a PyPI wheel.

The ``mediapipe==0.10.21`` wheel carries the two models of the full hand landmarker:

* ``mediapipe/modules/palm_detection/palm_detection_full.tflite`` - the palm detector
  (192x192 input, 2016 SSD anchors, the layout the Tasks hand detector graph decodes);
* ``mediapipe/modules/hand_landmark/hand_landmark_full.tflite`` - the landmark model
  (224x224 input; 21 landmarks, hand presence, handedness, 21 world landmarks).

Both already hold the TFLite metadata the Tasks API needs (RGB input normalised with mean 0 /
std 255), so nothing is added: the bundle is the zip layout ``HandLandmarker`` reads from a
``.task`` file - ``hand_detector.tflite`` + ``hand_landmarks_detector.tflite`` - written with
fixed timestamps, order and attributes, so it is byte-for-byte reproducible
(:data:`BUNDLE_SHA256`). (The wheel's ``palm_detection_lite.tflite`` has no metadata and is not used.)

Example:
    >>> from annotator_widgets.backends.hand_bundle import BUILT_NAME
    >>> BUILT_NAME
    'hand_landmarker_full_wheel'
    >>> path = build_hand_bundle(Path("hand_landmarker.task"))  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from ..checkpoints import Checkpoint, register
from ._tflite_bundle import Member, cached_wheel, read_member, write_bundle

__all__ = ["BUILT_NAME", "BUNDLE_SHA256", "DETECTOR", "LANDMARKER", "MEMBER_NAMES", "build_hand_bundle"]

DETECTOR = Member(
    "mediapipe/modules/palm_detection/palm_detection_full.tflite",
    "1b14e9422c6ad006cde6581a46c8b90dd573c07ab7f3934b5589e7cea3f89a54",
    "the palm detector",
)
LANDMARKER = Member(
    "mediapipe/modules/hand_landmark/hand_landmark_full.tflite",
    "11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3",
    "the hand landmark model",
)
#: the names the Tasks HandLandmarker looks for inside a ``.task`` bundle
MEMBER_NAMES = ("hand_detector.tflite", "hand_landmarks_detector.tflite")
#: sha256 of the bundle this module builds (deterministic).
BUNDLE_SHA256 = "53fe5919c3703dd08129465ae2dcdcb39a957bca9dd17a6b4c7f8e511ee7c465"


def build_hand_bundle(target: Path, *, wheel: Path | None = None) -> Path:
    """Build the hand landmarker ``.task`` bundle from the mediapipe 0.10.21 wheel.

    Args:
        target: Where to write the bundle (its folder is created).
        wheel: A local copy of the wheel; default: ``cached_wheel()`` (downloads once with pip).

    Returns:
        ``target``, whose sha256 is :data:`BUNDLE_SHA256`.

    Raises:
        CheckpointError: The wheel cannot be downloaded or read, or a checksum differs.
    """
    wheel = cached_wheel() if wheel is None else Path(wheel)
    models = (read_member(wheel, DETECTOR), read_member(wheel, LANDMARKER))
    return write_bundle(Path(target), list(zip(MEMBER_NAMES, models, strict=True)))


# ---------------------------------------------------------------------------- registry entries
#: registry name of the bundle built from the wheel
BUILT_NAME = "hand_landmarker_full_wheel"
_OFFICIAL = "https://storage.googleapis.com/mediapipe-models/hand_landmarker/hand_landmarker/float16/latest/hand_landmarker.task"

register(
    Checkpoint(
        name=BUILT_NAME,
        filename=f"{BUILT_NAME}.task",
        sha256=BUNDLE_SHA256,
        approx_mb=7.8,
        builder=f"{__name__}:build_hand_bundle",
        family="hands",
        notes="full hand landmarker built offline from the mediapipe==0.10.21 wheel on PyPI",
    )
)
register(
    Checkpoint(
        name="hand_landmarker",
        filename="hand_landmarker.task",
        urls=(_OFFICIAL,),
        approx_mb=7.8,
        family="hands",
        fallback=BUILT_NAME,
        notes=f"Google's official hand landmarker; sha256 recorded on first download; offline, {BUILT_NAME} is used",
    )
)
