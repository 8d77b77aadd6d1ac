import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from annotator_widgets import Project, open_video
from annotator_widgets.cli import main


def test_demo_writes_every_output_and_tracks_well(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "annotator_widgets.cli",
            "-q",
            "demo",
            "--out",
            str(out),
            "--frames",
            "30",
            "--segmenter",
            "classic",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 30 and summary["objects"] == 2
    assert summary["mean_iou_vs_ground_truth"] >= 0.8
    for name in ("sample.mp4", "annotated.mp4", "blurred.mp4", "coco.json", "project.awp", "masks"):
        assert (out / name).exists(), name
    listed = {"sample.mp4", "annotated.mp4", "blurred.mp4", "coco.json", "project.awp", "masks"}
    assert set(summary["outputs"]) == listed  # what the user gets, not the store's lock or side files
    assert len(open_video(out / "annotated.mp4")) == 30
    assert len(list((out / "masks").glob("*.png"))) == 30
    assert len(json.loads((out / "coco.json").read_text())["annotations"]) == 60


def test_annotate_export_render_commands(tmp_path, capsys):
    from annotator_widgets.data import synthetic_clip, write_video

    clip = synthetic_clip(num_frames=10, size=(96, 72), num_objects=1, seed=2)
    video = write_video(clip.frames, tmp_path / "v.mp4", fps=10)
    ys, xs = np.nonzero(clip.masks[1][4])
    prompts = [{"frame": 4, "obj_id": 1, "name": "blob", "points": [[float(xs.mean()), float(ys.mean())]]}]
    (tmp_path / "prompts.json").write_text(json.dumps(prompts))
    project = tmp_path / "p.awp"
    assert (
        main(
            [
                "-q",
                "annotate",
                str(video),
                "--project",
                str(project),
                "--prompts",
                str(tmp_path / "prompts.json"),
                "--segmenter",
                "classic",
                "--propagate",
                "both",
            ]
        )
        == 0
    )
    with Project.open(project, readonly=True) as p:
        assert p.mask_frames(1) == list(range(10)) and p.objects()[0].name == "blob"
    assert main(["export", str(project), "--format", "coco", "--out", str(tmp_path / "c.json")]) == 0
    assert len(json.loads((tmp_path / "c.json").read_text())["annotations"]) >= 9
    assert main(["-q", "render", str(project), "--out", str(tmp_path / "r.mp4"), "--effect", "pixelate"]) == 0
    assert len(open_video(tmp_path / "r.mp4")) == 10
    capsys.readouterr()
    assert main(["info", str(tmp_path / "missing.mp4")]) == 2
    assert "video file not found" in capsys.readouterr().err


def _tiny_project(tmp_path):
    """A 6-frame video with one object masked on every frame (no segmenter needed)."""
    from annotator_widgets.render import write_video

    rng = np.random.default_rng(1)
    frames = rng.integers(0, 255, (6, 48, 64, 3), dtype=np.uint8)
    video = open_video(write_video(tmp_path / "v.mp4", iter(frames), fps=10))
    mask = np.zeros((48, 64), bool)
    mask[10:30, 20:44] = True
    path = tmp_path / "p.awp"
    with Project.create(path, video) as project:
        oid = project.add_object(name="box").obj_id
        for f in range(6):
            project.put_mask(f, oid, mask)
    return path, video, mask


def test_python_dash_m_runs_the_command():
    proc = subprocess.run(
        [sys.executable, "-m", "annotator_widgets", "parts", "exporter"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("exporter:")
    assert any(line.split()[:2] == ["coco", "builtin"] for line in lines)
    assert any(line.split()[:2] == ["png", "builtin"] for line in lines)


def test_help_lists_every_registered_choice_with_its_summary(capsys):
    from annotator_widgets import registry

    assert main(["render", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for part in registry.parts("effect"):
        assert f"{part.name}: {' '.join(part.summary.split())}" in text
    assert main(["annotate", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert all(name in text for name in registry.names("segmenter")) and "OpenCV GrabCut" in text
    assert main(["export", "--help"]) == 0
    assert "coco: COCO JSON: RLE masks" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    ("argv", "kind"),
    [
        (["annotate", "v.mp4", "--project", "p.awp", "--segmenter", "nope"], "segmenter"),
        (["demo", "--segmenter", "nope:1"], "segmenter"),
        (["export", "p.awp", "--format", "nope", "--out", "x"], "exporter"),
        (["render", "p.awp", "--out", "x.mp4", "--effect", "nope"], "effect"),
        (["render", "p.awp", "--out", "x.mp4", "--effect", "blur:3"], "effect"),
    ],
)
def test_unknown_names_exit_2_and_list_the_known_ones(argv, kind, capsys):
    from annotator_widgets import registry

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "nope" in err or "blur:3" in err
    assert all(name in err for name in registry.names(kind)), err


@pytest.mark.parametrize("argv", [["fetch", "nope"], ["verify", "sam2.1_hiera_tiny", "nope"], ["path", "nope"]])
def test_checkpoints_unknown_names_exit_2_and_list_the_known_ones(argv, capsys):
    from annotator_widgets import checkpoints

    assert main(["checkpoints", *argv]) == 2
    out = capsys.readouterr()
    assert "unknown checkpoint name" in out.err and "nope" in out.err and not out.out  # nothing ran
    assert all(name in out.err for name in checkpoints.REGISTRY)


def test_parts_lists_kinds_names_origins_and_rejects_unknown_kinds(capsys):
    from annotator_widgets import registry

    assert main(["parts", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    listed = {(r["kind"], r["name"]): r for r in rows}
    for kind in registry.KINDS:
        for part in registry.parts(kind):
            assert listed[(kind, part.name)]["origin"] == part.origin
    assert listed[("segmenter", "hf")]["aliases"] == ["transformers"]
    assert listed[("effect", "blur")]["summary"].startswith("Gaussian blur")
    assert main(["parts", "effect"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("effect: ") and "pixelate" in out and "(also: mosaic)" in out and "coco" not in out
    assert main(["parts", "widgets"]) == 2
    assert "unknown kind of part 'widgets'" in capsys.readouterr().err


def test_export_and_render_use_parts_registered_at_run_time(tmp_path, capsys):
    from annotator_widgets import registry
    from annotator_widgets.export.base import ExportFormat

    project, _video, _mask = _tiny_project(tmp_path)

    def save_ids(p, out, **options):
        out = Path(out)
        out.write_text(json.dumps({f: sorted(p.annotations(f)) for f in p.mask_frames()}))
        return [out]

    def red(frame_rgb, mask_bool, strength):
        frame_rgb[mask_bool] = (255, 0, 0)
        return frame_rgb

    registry.register("exporter", "ids", ExportFormat("ids", "object ids per frame", "file", save_ids, ".json"))
    registry.register("effect", "red", red)
    try:
        assert main(["export", str(project), "--format", "ids", "--out", str(tmp_path / "ids.json")]) == 0
        assert json.loads((tmp_path / "ids.json").read_text()) == {str(f): [1] for f in range(6)}
        assert capsys.readouterr().out.strip() == str(tmp_path / "ids.json")
        assert main(["-q", "render", str(project), "--out", str(tmp_path / "red.mp4"), "--effect", "red"]) == 0
        frame = open_video(tmp_path / "red.mp4").frame(3).astype(int)
        inside = frame[12:28, 22:42].reshape(-1, 3).mean(axis=0)
        assert inside[0] > 200 and inside[1] < 60 and inside[2] < 60
    finally:
        registry.unregister("exporter", "ids")
        registry.unregister("effect", "red")


def test_export_png_writes_a_folder_and_strength_keeps_its_old_name(tmp_path, capsys):
    project, video, mask = _tiny_project(tmp_path)
    assert main(["export", str(project), "--format", "png", "--out", str(tmp_path / "masks")]) == 0
    assert capsys.readouterr().out.strip() == f"6 files in {tmp_path / 'masks'}"
    assert len(list((tmp_path / "masks").glob("*.png"))) == 6
    out = tmp_path / "dim.mp4"
    assert main(["-q", "render", str(project), "--out", str(out), "--effect", "dim", "--intensity", "1.0"]) == 0
    dimmed = open_video(out).frame(2).astype(int)
    original = video.frame(2).astype(int)
    assert dimmed[~mask].mean() < 0.3 * original[~mask].mean()  # strength 1 (given as --intensity) dims by 85%


def test_export_images_writes_the_frames_a_trainer_needs(tmp_path, capsys):
    project, video, _ = _tiny_project(tmp_path)
    out = tmp_path / "yolo"
    assert main(["export", str(project), "--format", "yolo", "--out", str(out), "--images"]) == 0
    labels = sorted(p.stem for p in (out / "labels" / "train").glob("*.txt"))
    images = sorted((out / "images" / "train").glob("*.jpg"))
    assert len(labels) == 6 and [p.stem for p in images] == labels  # Ultralytics pairs images/ with labels/
    assert 'train: "images/train"' in (out / "data.yaml").read_text()
    assert open_video(images[2]).frame(0).shape == video.frame(2).shape
    mot = tmp_path / "mot"
    assert main(["export", str(project), "--format", "mot", "--out", str(mot), "--video", str(video.path)]) == 0
    assert len(list((mot / "img1").glob("*.jpg"))) == 6
    capsys.readouterr()
    assert main(["export", str(project), "--format", "coco", "--out", str(tmp_path / "c.json"), "--images"]) == 2
    err = capsys.readouterr().err
    assert "does not write frame images" in err and "yolo" in err and "coco-dataset" in err
    assert not (tmp_path / "c.json").exists()
    coco = tmp_path / "coco"  # COCO with its frames: the dataset folder Datumaro and CVAT import
    assert main(["export", str(project), "--format", "coco-dataset", "--out", str(coco), "--images"]) == 0
    listed = json.loads((coco / "annotations" / "instances_default.json").read_text())["images"]
    names = {im["file_name"] for im in listed}
    assert names and names == {p.name for p in (coco / "images" / "default").glob("*.jpg")}


def test_export_overwrite_replaces_a_folder_with_other_files(tmp_path, capsys):
    project, _, _ = _tiny_project(tmp_path)
    out = tmp_path / "masks"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["export", str(project), "--format", "png", "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "notes.txt").exists()
    assert main(["export", str(project), "--format", "png", "--out", str(out), "--overwrite"]) == 0
    assert len(list(out.glob("*.png"))) == 6 and not (out / "notes.txt").exists()


def test_a_moved_video_is_found_again_with_video(tmp_path, capsys):
    project, video, _ = _tiny_project(tmp_path)
    moved = Path(video.path).rename(tmp_path / "moved.mp4")
    capsys.readouterr()
    assert main(["-q", "render", str(project), "--out", str(tmp_path / "r.mp4")]) == 2
    assert "pass --video PATH" in capsys.readouterr().err
    assert main(["export", str(project), "--format", "mot", "--out", str(tmp_path / "m"), "--images"]) == 2
    assert "--video PATH" in capsys.readouterr().err
    assert main(["-q", "render", str(project), "--out", str(tmp_path / "r.mp4"), "--video", str(moved)]) == 0
    assert len(open_video(tmp_path / "r.mp4")) == 6


@pytest.mark.parametrize("flag", ["--json", "--quiet"])
def test_quiet_and_json_keep_mediapipes_native_log_lines_off_stderr(flag, tmp_path):
    from annotator_widgets.data import synthetic_clip, write_video
    from tests.support.people import pose_bundle

    pose_bundle()  # the pose model, built once (MediaPipe logs as it loads and runs it)
    write_video(synthetic_clip(num_frames=4, size=(128, 96), num_objects=1).frames, tmp_path / "a.mp4")
    argv = ["batch", str(tmp_path / "a.mp4"), "--out", str(tmp_path / "out"), "--segmenter", "classic"]
    root = Path(__file__).parent.parent
    proc = subprocess.run(
        [sys.executable, "-m", "annotator_widgets", *argv, "--track-people", "--format", "coco", flag],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
        check=False,
    )
    assert proc.returncode == 1  # nobody in a clip of discs: the video fails, and says so
    for native in ("INFO: [", "WARNING: [", "W0000 ", "I0000 ", "XNNPACK", "InitGoogle"):
        assert native not in proc.stderr, proc.stderr[:500]
    if flag == "--json":
        (video,) = [e for e in map(json.loads, proc.stdout.splitlines()) if e["event"] == "video"]
        assert "no person found" in video["error"] and not proc.stderr
    else:  # Python's own messages still reach stderr
        assert "failed: a: no person found" in proc.stderr


@pytest.mark.parametrize("flags", [[], ["--no-cuts"]])
def test_annotate_stops_at_a_shot_cut_unless_no_cuts(tmp_path, flags):
    from annotator_widgets.data import synthetic_clip, write_video

    a, b = synthetic_clip(6, (160, 120), 1, seed=0), synthetic_clip(6, (160, 120), 1, seed=1)
    video = write_video(np.concatenate([a.frames, b.frames]), tmp_path / "v.mp4", fps=10)
    prompts = [{"frame": 2, "obj_id": 1, "box": [float(v) for v in a.boxes[1][2]]}]
    (tmp_path / "prompts.json").write_text(json.dumps(prompts))
    args = ["-q", "annotate", str(video), "--project", str(tmp_path / "p.awp"), "--segmenter", "classic"]
    assert main([*args, "--prompts", str(tmp_path / "prompts.json"), *flags]) == 0
    with Project.open(tmp_path / "p.awp", readonly=True) as p:
        assert p.mask_frames(1) == list(range(12 if flags else 6))  # the cut is at frame 6
