import json
import subprocess
import sys

import numpy as np

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
