"""Build MediaPipe's full pose landmarker bundle (``.task``) offline from a PyPI wheel.

MediaPipe 1.x ships no model files and Google's model storage may be out of
reach. The ``mediapipe==0.10.21`` wheel on PyPI still carries the two TFLite
models of the full pose landmarker (byte-identical across 0.10.5-0.10.21):

* ``mediapipe/modules/pose_detection/pose_detection.tflite`` - the person
  detector; its own metadata (input normalised with mean 127.5 / std 127.5) is
  what the Tasks API needs.
* ``mediapipe/modules/pose_landmark/pose_landmark_full.tflite`` - the landmark
  model; it carries no TFLite metadata, and the Tasks API refuses a float input
  without ``NormalizationOptions``. We add a metadata block: an RGB image input
  normalised with mean 0 / std 255 (pixels to 0..1) and its five outputs.

The builder downloads the wheel with pip *without installing it* (it pins
numpy<2), caches it under ``<cache>/wheels``, checks every sha256 and zips the
two models as ``pose_detector.tflite`` + ``pose_landmarks_detector.tflite``
with fixed timestamps, order and attributes, so the bundle is byte-for-byte
reproducible (:data:`BUNDLE_SHA256`). The generic pieces (wheel, members, metadata,
zip) live in :mod:`._tflite_bundle`, shared with the face and hand bundles.

Example:
    Build it through the checkpoint registry (what ``make test`` does)::

        python -m annotator_widgets.checkpoints fetch pose_landmarker_full_wheel

    or directly::

        >>> from pathlib import Path
        >>> from annotator_widgets.backends.pose_bundle import build_pose_bundle
        >>> path = build_pose_bundle(Path("pose_landmarker_full_wheel.task"))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..checkpoints import Checkpoint, register
from ._tflite_bundle import (
    MEDIAPIPE_WHEEL,
    Member,
    add_metadata,
    cached_wheel,
    image_model_metadata,
    read_member,
    write_bundle,
)

__all__ = [
    "BUILT_NAME",
    "BUNDLE_SHA256",
    "DETECTOR_SHA256",
    "LANDMARKER_SHA256",
    "WHEEL_FILENAME",
    "WHEEL_SHA256",
    "add_metadata",
    "build_pose_bundle",
    "cached_wheel",
    "landmark_metadata",
]

log = logging.getLogger(__name__)

WHEEL_REQUIREMENT = MEDIAPIPE_WHEEL.requirement
WHEEL_FILENAME = MEDIAPIPE_WHEEL.filename
#: sha256 of the wheel as PyPI serves it.
WHEEL_SHA256 = MEDIAPIPE_WHEEL.sha256
DETECTOR_MEMBER = "mediapipe/modules/pose_detection/pose_detection.tflite"
LANDMARKER_MEMBER = "mediapipe/modules/pose_landmark/pose_landmark_full.tflite"
#: sha256 of the two models inside the wheel (identical in 0.10.5-0.10.21).
DETECTOR_SHA256 = "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c"
LANDMARKER_SHA256 = "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f"
#: sha256 of the bundle this module builds (deterministic).
BUNDLE_SHA256 = "37abfda1e7ef566cf72d3e7ed890fa69eff04a1b2dde0a752d17cce2bd2aeb39"

_DETECTOR = Member(DETECTOR_MEMBER, DETECTOR_SHA256, "the pose detector")
_LANDMARKER = Member(LANDMARKER_MEMBER, LANDMARKER_SHA256, "the pose landmark model")
#: the landmark model's outputs, in tensor order: (name, description).
_LANDMARK_OUTPUTS = (
    ("landmarks", "39 landmarks (33 pose + 6 auxiliary): x, y, z, visibility, presence in input pixels"),
    ("pose_flag", "Probability that a person is present in the crop"),
    ("segmentation", "Person segmentation logits, 256x256"),
    ("heatmap", "Landmark heatmaps, 64x64x39"),
    ("world_landmarks", "39 world landmarks: x, y, z in metres, hip-centred"),
)


def landmark_metadata() -> bytes:
    """The TFLite metadata flatbuffer (``M001``) the Tasks API needs on the landmark model.

    An RGB image input normalised with mean 0 / std 255, and the model's five outputs.
    """
    return image_model_metadata(
        "Pose landmarks detector (BlazePose GHUM 3D, full)",
        "mediapipe 0.10.21 pose_landmark_full.tflite with metadata added by annotator_widgets",
        input_description="Input RGB image, 256x256, pixel values divided by 255",
        mean=0.0,
        std=255.0,
        outputs=_LANDMARK_OUTPUTS,
    )


def build_pose_bundle(target: Path, *, wheel: Path | None = None) -> Path:
    """Build the full pose landmarker ``.task`` bundle from the mediapipe 0.10.21 wheel.

    Args:
        target: Where to write the bundle (its folder is created).
        wheel: A local copy of the wheel; default: :func:`cached_wheel` (downloads once with pip).

    Returns:
        ``target``, whose sha256 is :data:`BUNDLE_SHA256`.

    Raises:
        CheckpointError: The wheel cannot be downloaded or read, or a checksum differs.

    Example:
        >>> from annotator_widgets.checkpoints import sha256_of
        >>> p = build_pose_bundle(Path("/tmp/pose.task"))  # doctest: +SKIP
        >>> sha256_of(p) == BUNDLE_SHA256  # doctest: +SKIP
        True
    """
    wheel = cached_wheel() if wheel is None else Path(wheel)
    detector = read_member(wheel, _DETECTOR)
    landmarker = add_metadata(read_member(wheel, _LANDMARKER), landmark_metadata())
    return write_bundle(
        Path(target), [("pose_detector.tflite", detector), ("pose_landmarks_detector.tflite", landmarker)]
    )


# ---------------------------------------------------------------------------- registry entries
_OFFICIAL = "https://storage.googleapis.com/mediapipe-models/pose_landmarker/pose_landmarker_{0}/float16/latest/pose_landmarker_{0}.task"
#: registry name of the bundle built from the wheel
BUILT_NAME = "pose_landmarker_full_wheel"

register(
    Checkpoint(
        name=BUILT_NAME,
        filename=f"{BUILT_NAME}.task",
        sha256=BUNDLE_SHA256,
        approx_mb=9.4,
        builder=f"{__name__}:build_pose_bundle",
        family="pose",
        notes="full pose landmarker built offline from the mediapipe==0.10.21 wheel on PyPI",
    )
)
for _variant, _mb in (("lite", 5.8), ("full", 9.4), ("heavy", 30.7)):
    register(
        Checkpoint(
            name=f"pose_landmarker_{_variant}",
            filename=f"pose_landmarker_{_variant}.task",
            urls=(_OFFICIAL.format(_variant),),
            approx_mb=_mb,
            family="pose",
            fallback=BUILT_NAME if _variant == "full" else None,
            notes="Google's official bundle; sha256 recorded on first download"
            + (f"; offline, {BUILT_NAME} is used instead" if _variant == "full" else ""),
        )
    )
