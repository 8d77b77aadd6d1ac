"""Batches end to end: the CLI on generated clips with the classic segmenter, resume after kill -9, Ray, failures."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from annotator_widgets import Project
from annotator_widgets.batch import Manifest, Settings, run_batch
from annotator_widgets.cli import main
from annotator_widgets.data import synthetic_clip, write_video
from annotator_widgets.rle import mask_iou

ROOT = Path(__file__).resolve().parents[2]
FRAMES = 60  # long enough that a kill lands mid-video (see test_kill_9_then_resume)
FORMATS = "coco,mot,png"


def _clip(folder: Path, name: str, frames: int, seed: int) -> tuple[Path, object]:
    clip = synthetic_clip(num_frames=frames, size=(128, 96), num_objects=2, seed=seed)
    video = write_video(clip.frames, folder / f"{name}.mp4")
    prompts = [{"frame": 0, "obj_id": o, "box": [float(v) for v in clip.boxes[o][0]]} for o in (1, 2)]
    (folder / f"{name}.json").write_text(json.dumps(prompts))
    return video, clip


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("media")
    clips = {name: _clip(folder, name, FRAMES, seed)[1] for name, seed in (("a", 1), ("b", 2))}
    return folder, clips


def _args(folder: Path, out: Path, *extra: str) -> list[str]:
    return [
        "batch",
        str(folder / "[ab].mp4"),
        "--out",
        str(out),
        "--segmenter",
        "classic",
        "--prompts",
        str(folder / "{stem}.json"),
        "--format",
        FORMATS,
        *extra,
    ]


def _outputs(out: Path) -> dict[str, bytes]:
    """Every export file under ``out`` (not the projects or the manifest) with its bytes."""
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and "project.awp" not in p.name and p.name != "manifest.sqlite"
    }


@pytest.fixture(scope="module")
def reference(media, tmp_path_factory):
    """One uninterrupted CLI run over both clips: (out folder, its outputs, json events)."""
    folder, _ = media
    out = tmp_path_factory.mktemp("reference")
    proc = subprocess.run(
        [sys.executable, "-m", "annotator_widgets", *_args(folder, out, "--json")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    return out, _outputs(out), events


def test_cli_batch_writes_a_project_and_exports_per_video(media, reference):
    _, clips = media
    out, outputs, events = reference
    for name in ("a", "b"):
        assert {f"{name}/coco.json", f"{name}/mot/gt/gt.txt"} <= set(outputs)
        assert len([k for k in outputs if k.startswith(f"{name}/png/") and k.endswith(".png")]) == FRAMES
        with Project.open(out / name / "project.awp", readonly=True) as project:
            assert project.mask_frames() == list(range(FRAMES))
            ious = [mask_iou(ann.rle, clips[name].masks[ann.obj_id][ann.frame]) for ann in project.iter_annotations()]
        assert len(ious) == 2 * FRAMES and np.mean(ious) > 0.6  # the masks follow the objects
        coco = json.loads(outputs[f"{name}/coco.json"])
        assert len(coco["annotations"]) == 2 * FRAMES
    # machine-readable progress: frames of each video in order, one result per video, a summary last
    frames = [e["frame"] for e in events if e["event"] == "frame" and e["video"] == "a"]
    assert frames == list(range(FRAMES)) and events[-1]["event"] == "summary"
    assert events[-1]["done"] == 2 and events[-1]["failed"] == []
    with Manifest(out / "manifest.sqlite") as m:
        rows = {r.key: r for r in m.records()}
    assert {k: r.status for k, r in rows.items()} == {"a": "done", "b": "done"}
    assert rows["a"].frames_computed == FRAMES - 1 and rows["a"].frames_recomputed == 0
    assert rows["a"].sha256 and rows["a"].outputs[0].startswith("a/")
    # a video's event says how many files and where; the list itself is the manifest's
    videos = {e["video"]: e for e in events if e["event"] == "video"}
    assert {k: (e["files"], e["folder"]) for k, e in videos.items()} == {
        k: (len(r.outputs), str(out / k)) for k, r in rows.items()
    }
    assert rows["a"].outputs and all("outputs" not in e for e in videos.values())


def test_rerun_skips_done_videos_and_redoes_changed_ones(tmp_path, capsys):
    folder = tmp_path / "media"
    folder.mkdir()
    for name, seed in (("a", 3), ("b", 4)):
        _clip(folder, name, 6, seed)
    out = tmp_path / "out"
    assert main(_args(folder, out, "--quiet")) == 0
    before = _outputs(out)
    capsys.readouterr()
    assert main(_args(folder, out, "--json")) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["video"], e["status"]) for e in events if e["event"] == "video"] == [("a", "skipped"), ("b", "skipped")]
    assert _outputs(out) == before
    # a changed input is redone (from scratch); the other video stays skipped
    _clip(folder, "b", 6, seed=5)
    assert main(_args(folder, out, "--json")) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["video"], e["status"]) for e in events if e["event"] == "video"] == [("a", "skipped"), ("b", "done")]
    assert _outputs(out)["b/coco.json"] != before["b/coco.json"]
    # changed settings redo every video; the old formats' files go with the old results
    args = _args(folder, out, "--json")
    args[args.index("--format") + 1] = "yolo"
    assert main(args) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["status"] for e in events if e["event"] == "video"] == ["done", "done"]
    assert {k.split("/")[1] for k in _outputs(out)} == {"yolo"}


def test_a_corrupt_video_fails_alone(tmp_path, capsys):
    folder = tmp_path / "media"
    folder.mkdir()
    _clip(folder, "a", 5, 6)
    (folder / "b.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"broken" * 50)
    (folder / "b.json").write_text("[]")
    out = tmp_path / "out"
    assert main(_args(folder, out, "--quiet")) == 1
    err = capsys.readouterr().err
    assert "failed: b: cannot open video" in err and "1 done, 0 skipped, 1 failed" in err
    with Manifest(out / "manifest.sqlite") as m:
        rows = {r.key: r for r in m.records()}
    assert rows["a"].status == "done" and (out / "a" / "coco.json").exists()
    assert rows["b"].status == "failed" and "cannot open video" in rows["b"].error and rows["b"].outputs == []
    # the failure is retried on the next run, the finished video is not
    assert main(_args(folder, out, "--json")) == 1
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [(e["video"], e["status"]) for e in events if e["event"] == "video"] == [("a", "skipped"), ("b", "failed")]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--format", "coco,nope"], "unknown export format 'nope'"),
        (["--segmenter", "nope"], "segmenter"),
        (["--prompts-format", "nope"], "unknown prompts format 'nope'"),
        (["--executor", "spark"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2(tmp_path, capsys, extra, message):
    assert main(["batch", str(tmp_path / "x.mp4"), "--out", str(tmp_path / "o"), *extra]) == 2
    assert message in capsys.readouterr().err


def test_a_pattern_matching_nothing_exits_2(tmp_path, capsys):
    assert main(["batch", str(tmp_path / "*.mp4"), "--out", str(tmp_path / "o")]) == 2
    assert "no video matches the pattern" in capsys.readouterr().err


def _masks(project_path: Path) -> dict[tuple[int, int], tuple[object, float | None]]:
    with Project.open(project_path, readonly=True) as project:
        return {(a.frame, a.obj_id): (a.rle.counts, a.score) for a in project.iter_annotations()}


def test_kill_9_then_resume_gives_identical_outputs_and_recomputes_nothing(media, reference, tmp_path):
    folder, _ = media
    out = tmp_path / "out"
    read_fd, write_fd = os.pipe()
    fcntl.fcntl(read_fd, 1031, 4096)  # F_SETPIPE_SZ: the child blocks ~40 progress lines ahead of this reader
    proc = subprocess.Popen(
        [sys.executable, "-m", "annotator_widgets", *_args(folder, out, "--json")],
        stdout=write_fd,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as lines:
            for line in lines:
                event = json.loads(line)
                if event["event"] == "frame" and event["video"] == "a" and event["done"] >= 8:
                    break
            else:
                pytest.fail("the batch ended before reaching frame 8 of video a")
            with sqlite3.connect(out / "manifest.sqlite") as db:
                status = dict(db.execute("SELECT key, status FROM videos").fetchall())
            assert status == {"a": "running", "b": "pending"}
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    saved = _masks(out / "a" / "project.awp")
    saved_frames = {f for f, _ in saved}
    assert 8 <= len(saved_frames) < FRAMES  # killed mid-video, with frames saved
    assert main(_args(folder, out, "--quiet")) == 0
    with Manifest(out / "manifest.sqlite") as m:
        rows = {r.key: r for r in m.records()}
    assert rows["a"].frames_computed == FRAMES - len(saved_frames)  # only the missing frames
    assert rows["a"].frames_recomputed == 0 and rows["a"].attempts == 2
    after = _masks(out / "a" / "project.awp")
    assert {k: after[k] for k in saved} == saved  # saved frames untouched
    assert _outputs(out) == reference[1]  # byte-identical to the uninterrupted run
    assert _masks(out / "a" / "project.awp") == _masks(reference[0] / "a" / "project.awp")


def test_ray_executor_matches_local_byte_for_byte(media, reference, tmp_path, monkeypatch):
    import ray  # the batch extra: installed for the tests (a missing ray fails here)

    folder, _ = media
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the local cluster's workers import this tree
    out = tmp_path / "out"
    settings = Settings(segmenter="classic", prompts=str(folder / "{stem}.json"), formats=tuple(FORMATS.split(",")))
    report = run_batch(
        [folder / "a.mp4", folder / "b.mp4"], out, settings, executor="ray", init_options={"num_cpus": 2}
    )
    assert not ray.is_initialized()  # the call started its local Ray and shut it down
    assert [(r.key, r.status) for r in sorted(report.results, key=lambda r: r.key)] == [("a", "done"), ("b", "done")]
    assert _outputs(out) == reference[1]


def test_cli_batch_without_a_source_of_objects_is_a_bad_argument(media, tmp_path, capsys):
    folder, _ = media
    out = tmp_path / "out"
    argv = ["batch", str(folder / "a.mp4"), "--out", str(out), "--segmenter", "classic"]
    assert main(argv) == 2  # not "1: some videos failed" after opening each of them
    err = capsys.readouterr().err
    assert "--prompts" in err and "--text" in err and "--track-people" in err
    assert not out.exists()


def test_a_segmenter_that_does_not_load_fails_each_video_with_its_message_and_no_traceback(
    media, tmp_path, capsys, caplog
):
    folder, _ = media
    argv = _args(folder, tmp_path / "out", "--json")
    argv[argv.index("--segmenter") + 1] = "sam2:no_such_model"  # a registered part, an unknown model
    assert main(argv) == 1
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert [f["video"] for f in summary["failed"]] == ["a", "b"]
    assert all("unknown SAM2 model name" in f["error"] for f in summary["failed"])
    warnings = [r for r in caplog.records if "loading the segmenter" in r.getMessage()]
    assert warnings and not any(r.exc_info for r in warnings)  # the message is the fix; no traceback


def test_cli_batch_images_writes_the_frames_for_the_formats_that_take_them(media, tmp_path):
    folder, _ = media
    argv = _args(folder, tmp_path / "out", "--quiet", "--images")
    argv[argv.index("--format") + 1] = "yolo,coco"
    argv[1] = str(folder / "a.mp4")
    assert main(argv) == 0
    yolo = tmp_path / "out" / "a" / "yolo"
    labels = sorted(p.stem for p in (yolo / "labels" / "train").glob("*.txt"))
    assert len(labels) == FRAMES
    assert sorted(p.stem for p in (yolo / "images" / "train").glob("*.jpg")) == labels
    assert (tmp_path / "out" / "a" / "coco.json").is_file()  # COCO takes no frames and is written as before


def test_a_ray_that_cannot_start_is_a_clear_error_after_one_more_try(media, tmp_path, monkeypatch):
    """Ray's local node has a fixed 30 s to register (a loaded machine misses it): started once more, then a
    BackendError that names --executor local, not Ray's traceback."""
    import ray

    from annotator_widgets.errors import BackendError

    calls: list[str | None] = []

    def init(address=None, **_):  # a test double of ray.init that always misses the deadline
        calls.append(address)
        raise Exception("The current node timed out during startup. This could happen because ...")

    monkeypatch.setattr(ray, "init", init)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    folder, _ = media
    settings = Settings(segmenter="classic", prompts=str(folder / "{stem}.json"), formats=("coco",))
    with pytest.raises(BackendError, match="could not start a local Ray") as err:
        run_batch([folder / "a.mp4"], tmp_path / "out", settings, executor="ray")
    message = str(err.value)
    assert calls == [None, None] and "--executor local" in message and "timed out during startup" in message
    calls.clear()
    with pytest.raises(BackendError, match="could not join the Ray cluster at 'auto'"):
        run_batch([folder / "a.mp4"], tmp_path / "out2", settings, executor="ray", ray_address="auto")
    assert calls == ["auto"]  # a cluster that is not there is not asked twice
