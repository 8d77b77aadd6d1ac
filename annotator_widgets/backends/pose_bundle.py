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
reproducible (:data:`BUNDLE_SHA256`).

Example:
    Build it through the checkpoint registry (what ``make test`` does)::

        python -m annotator_widgets.checkpoints fetch pose_landmarker_full_wheel

    or directly::

        >>> from pathlib import Path
        >>> from annotator_widgets.backends.pose_bundle import build_pose_bundle
        >>> path = build_pose_bundle(Path("pose_landmarker_full_wheel.task"))  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ..checkpoints import Checkpoint, register
from ..errors import CheckpointError
from ._optional import require

__all__ = [
    "BUILT_NAME",
    "BUNDLE_SHA256",
    "DETECTOR_SHA256",
    "LANDMARKER_SHA256",
    "WHEEL_FILENAME",
    "WHEEL_SHA256",
    "build_pose_bundle",
    "cached_wheel",
    "landmark_metadata",
]

log = logging.getLogger(__name__)

WHEEL_REQUIREMENT = "mediapipe==0.10.21"
WHEEL_FILENAME = "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl"
#: sha256 of the wheel as PyPI serves it.
WHEEL_SHA256 = "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3"
DETECTOR_MEMBER = "mediapipe/modules/pose_detection/pose_detection.tflite"
LANDMARKER_MEMBER = "mediapipe/modules/pose_landmark/pose_landmark_full.tflite"
#: sha256 of the two models inside the wheel (identical in 0.10.5-0.10.21).
DETECTOR_SHA256 = "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c"
LANDMARKER_SHA256 = "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f"
#: sha256 of the bundle this module builds (deterministic).
BUNDLE_SHA256 = "37abfda1e7ef566cf72d3e7ed890fa69eff04a1b2dde0a752d17cce2bd2aeb39"

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_ZIP_ALIGN = 64
_TFLITE_IDENTIFIER = b"TFL3"
_METADATA_IDENTIFIER = b"M001"
_METADATA_FIELD = "TFLITE_METADATA"
#: the landmark model's outputs, in tensor order: (name, description).
_LANDMARK_OUTPUTS = (
    ("landmarks", "39 landmarks (33 pose + 6 auxiliary): x, y, z, visibility, presence in input pixels"),
    ("pose_flag", "Probability that a person is present in the crop"),
    ("segmentation", "Person segmentation logits, 256x256"),
    ("heatmap", "Landmark heatmaps, 64x64x39"),
    ("world_landmarks", "39 world landmarks: x, y, z in metres, hip-centred"),
)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cached_wheel(folder: Path | None = None) -> Path:
    """The ``mediapipe==0.10.21`` wheel, downloaded once with pip (never installed) and verified.

    Args:
        folder: Where to keep it; default ``<checkpoint cache>/wheels``.

    Returns:
        The path of the verified wheel.

    Raises:
        CheckpointError: pip cannot download it (offline) or it has the wrong sha256.

    Example:
        >>> cached_wheel().name  # doctest: +SKIP
        'mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl'
    """
    if folder is None:
        from ..checkpoints import cache_dir

        folder = cache_dir() / "wheels"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / WHEEL_FILENAME
    if wheel.is_file() and _sha256(wheel.read_bytes()) == WHEEL_SHA256:
        return wheel
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--platform",
            "manylinux_2_28_x86_64",
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
            "--abi",
            "cp311",
            "--disable-pip-version-check",
            "--quiet",
            WHEEL_REQUIREMENT,
            "-d",
            tmp,
        ]
        log.info("downloading %s with pip (not installing it)", WHEEL_REQUIREMENT)
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        got = Path(tmp) / WHEEL_FILENAME
        if proc.returncode != 0 or not got.is_file():
            raise CheckpointError(
                f"cannot download the {WHEEL_REQUIREMENT} wheel with pip",
                given=(proc.stderr or proc.stdout).strip()[-600:] or f"exit code {proc.returncode}",
                hint=f"check that PyPI is reachable, or download {WHEEL_FILENAME} yourself "
                f"(`pip download --no-deps ... {WHEEL_REQUIREMENT}`) and place it in {folder}",
            )
        actual = _sha256(got.read_bytes())
        if actual != WHEEL_SHA256:
            raise CheckpointError(
                "the downloaded mediapipe wheel has the wrong sha256",
                given=f"{actual}, expected {WHEEL_SHA256}",
                hint="your package index serves a different file; download it from pypi.org",
            )
        os.replace(got, wheel)
    return wheel


def _read_member(wheel: Path, member: str, expected_sha: str) -> bytes:
    try:
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(member)
    except (KeyError, zipfile.BadZipFile, OSError) as exc:
        raise CheckpointError(
            "cannot read the pose model from the wheel",
            given=f"{wheel}!{member}",
            hint=f"pass the {WHEEL_FILENAME} wheel, or delete it to download it again",
        ) from exc
    actual = _sha256(data)
    if actual != expected_sha:
        raise CheckpointError(
            "the pose model in the wheel has the wrong sha256",
            given=f"{member}: {actual}",
            hint=f"use the {WHEEL_REQUIREMENT} wheel from PyPI (expected {expected_sha})",
        )
    return data


def landmark_metadata() -> bytes:
    """The TFLite metadata flatbuffer (``M001``) the Tasks API needs on the landmark model.

    An RGB image input normalised with mean 0 / std 255, and the model's five outputs.
    """
    require("flatbuffers", purpose="building the pose model bundle")
    import flatbuffers
    from mediapipe.tasks.metadata import metadata_schema_py_generated as md

    image = md.TensorMetadataT()
    image.name = "image"
    image.description = "Input RGB image, 256x256, pixel values divided by 255"
    image.content = md.ContentT()
    image.content.contentPropertiesType = md.ContentProperties.ImageProperties
    image.content.contentProperties = md.ImagePropertiesT()
    image.content.contentProperties.colorSpace = md.ColorSpaceType.RGB
    norm = md.ProcessUnitT()
    norm.optionsType = md.ProcessUnitOptions.NormalizationOptions
    norm.options = md.NormalizationOptionsT()
    norm.options.mean = [0.0]
    norm.options.std = [255.0]
    image.processUnits = [norm]
    image.stats = md.StatsT()
    image.stats.max = [1.0]
    image.stats.min = [0.0]

    outputs = []
    for name, description in _LANDMARK_OUTPUTS:
        out = md.TensorMetadataT()
        out.name = name
        out.description = description
        out.content = md.ContentT()
        out.content.contentPropertiesType = md.ContentProperties.FeatureProperties
        out.content.contentProperties = md.FeaturePropertiesT()
        out.stats = md.StatsT()
        outputs.append(out)

    graph = md.SubGraphMetadataT()
    graph.inputTensorMetadata = [image]
    graph.outputTensorMetadata = outputs
    model = md.ModelMetadataT()
    model.name = "Pose landmarks detector (BlazePose GHUM 3D, full)"
    model.description = "mediapipe 0.10.21 pose_landmark_full.tflite with metadata added by annotator_widgets"
    model.license = "Apache License 2.0"
    model.minParserVersion = "1.0.0"
    model.subgraphMetadata = [graph]
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), _METADATA_IDENTIFIER)
    return bytes(builder.Output())


def add_metadata(tflite: bytes, metadata: bytes) -> bytes:
    """Return ``tflite`` with ``metadata`` stored as its ``TFLITE_METADATA`` buffer (replacing any)."""
    import numpy as np
    from mediapipe.tasks.metadata import schema_py_generated as schema

    require("flatbuffers", purpose="building the pose model bundle")
    import flatbuffers

    class AlignedBuffer(schema.BufferT):  # type: ignore[misc, name-defined]
        """A buffer whose data starts on a 16-byte boundary, as TFLite's converter writes them
        (so TFLite can map the weights without copying them)."""

        def Pack(self, builder: flatbuffers.Builder) -> int:
            payload = b"" if self.data is None else np.asarray(self.data, np.uint8).tobytes()
            if not payload:
                return super().Pack(builder)
            builder.StartVector(1, len(payload), 16)
            builder.head -= len(payload)
            builder.Bytes[builder.head : builder.head + len(payload)] = payload
            data = builder.EndVector()
            schema.BufferStart(builder)
            schema.BufferAddData(builder, data)
            schema.BufferAddOffset(builder, self.offset)
            schema.BufferAddSize(builder, self.size)
            return schema.BufferEnd(builder)

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(tflite, 0))
    buf = schema.BufferT()
    buf.data = np.frombuffer(metadata, np.uint8)
    model.buffers = list(model.buffers or [])
    for b in model.buffers:
        b.__class__ = AlignedBuffer
    model.metadata = list(model.metadata or [])
    for entry in model.metadata:
        name = entry.name.decode() if isinstance(entry.name, bytes) else entry.name
        if name == _METADATA_FIELD:
            model.buffers[entry.buffer] = buf
            buf.__class__ = AlignedBuffer
            break
    else:
        model.buffers.append(buf)
        buf.__class__ = AlignedBuffer
        entry = schema.MetadataT()
        entry.name = _METADATA_FIELD
        entry.buffer = len(model.buffers) - 1
        model.metadata.append(entry)
    builder = flatbuffers.Builder(len(tflite) + len(metadata) + 4096)
    builder.Finish(model.Pack(builder), _TFLITE_IDENTIFIER)
    return bytes(builder.Output())


def _zip_deterministic(target: Path, members: list[tuple[str, bytes]]) -> None:
    """Stored (uncompressed) members with fixed metadata, each model's bytes starting on a
    64-byte boundary (padding in a zipalign-style extra field) so TFLite can use them in place."""
    with open(target, "wb") as fh, zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3  # unix, whatever the host
            info.external_attr = 0o100644 << 16
            start = fh.tell() + 30 + len(name.encode()) + 4  # local header + one extra-field header
            pad = -start % _ZIP_ALIGN
            info.extra = struct.pack("<HH", 0xD935, pad) + b"\0" * pad
            zf.writestr(info, data)


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
    target = Path(target)
    wheel = cached_wheel() if wheel is None else Path(wheel)
    detector = _read_member(wheel, DETECTOR_MEMBER, DETECTOR_SHA256)
    landmarker = add_metadata(_read_member(wheel, LANDMARKER_MEMBER, LANDMARKER_SHA256), landmark_metadata())
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, suffix=".part")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _zip_deterministic(tmp, [("pose_detector.tflite", detector), ("pose_landmarks_detector.tflite", landmarker)])
        tmp.chmod(0o644)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("built pose bundle %s (sha256 %s)", target, _sha256(target.read_bytes()))
    return target


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
