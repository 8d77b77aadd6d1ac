"""Rendered MP4s: H.264 that browsers play, source fps and size kept, effects only inside the (dilated) masks,
progress and cancel, audio ignored, bad input refused with nothing half-written, and no model re-run."""

from __future__ import annotations

import os
import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from scipy import ndimage

from annotator_widgets import AnnotationSession, AnnotatorError, BackendError, Project, PromptError, open_video
from annotator_widgets.backends import ObjectMask, SegmenterFrame
from annotator_widgets.cli import main
from annotator_widgets.data import synthetic_clip
from annotator_widgets.data import write_video as write_clip
from annotator_widgets.render import RenderCancelled, preview_frame, render_video

N, W, H, FPS = 24, 320, 180, 12.0


@pytest.fixture(scope="module")
def clip():
    return synthetic_clip(num_frames=N, size=(W, H), num_objects=2, seed=3)


@pytest.fixture
def source(tmp_path, clip):
    return open_video(write_clip(clip.frames, tmp_path / "source.mp4", fps=FPS))


@pytest.fixture
def project(tmp_path, source, clip):
    with Project.create(tmp_path / "p.awp", source) as p:
        for truth_id, masks in clip.masks.items():
            oid = p.add_object(name=f"shape {truth_id}", category="person" if truth_id == 1 else "car").obj_id
            for f in range(N):
                p.put_mask(f, oid, masks[f])
        yield p


def _stream(path: Path) -> dict:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return {
            "codec": v.codec_context.name,
            "pix_fmt": v.codec_context.pix_fmt,
            "rate": v.average_rate,
            "size": (v.codec_context.width, v.codec_context.height),
            "frames": sum(1 for _ in c.decode(video=0)),
            "audio": len(c.streams.audio),
        }


def test_a_rendered_mp4_is_h264_with_the_source_frames_fps_and_size(tmp_path, project, source):
    out = render_video(project, source, tmp_path / "blur.mp4", effect="blur", strength=0.8)
    info = _stream(out)
    assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p"  # what browsers play
    assert info["frames"] == N and info["size"] == (W, H) and info["rate"] == Fraction(12)
    back = open_video(out)
    assert (len(back), back.size, back.fps) == (N, (W, H), FPS)


def test_a_fractional_source_fps_is_kept(tmp_path, clip):
    video = open_video(write_clip(clip.frames[:6], tmp_path / "ntsc.mp4", fps=30000 / 1001))
    with Project.create(tmp_path / "ntsc.awp", video) as p:
        out = render_video(p, video, tmp_path / "ntsc_out.mp4")
    assert video.fps == pytest.approx(29.97, abs=1e-3)  # OpenCV's writer rounds the source's rate to 29.97
    assert _stream(out)["rate"] == Fraction(30000, 1001)  # the render writes the exact NTSC rate


def test_the_blur_changes_the_video_only_inside_the_dilated_masks(tmp_path, project, source, clip):
    dilate = 6
    out = open_video(render_video(project, source, tmp_path / "b.mp4", effect="blur", strength=1.0, dilate=dilate))
    for f in (0, N // 2, N - 1):
        union = np.logical_or.reduce([m[f] for m in clip.masks.values()])
        dist = ndimage.distance_transform_edt(~union)
        diff = np.abs(out.frame(f).astype(int) - source.frame(f)).mean(axis=-1)
        far = dist > dilate + 1
        # the source up to the codec: H.264 at CRF 20 over a textured 320x180 clip differs by ~2.5 on average
        assert diff[far].mean() < 4 and np.percentile(diff[far], 99) < 12
        assert diff[union].mean() > 20  # the textured objects are blurred
        ring = (dist >= 2) & (dist <= dilate - 1)  # around the objects, inside the dilation: changed too
        assert diff[ring].mean() > 4
    not_dilated = open_video(render_video(project, source, tmp_path / "n.mp4", effect="blur", strength=1.0))
    ring_plain = np.abs(not_dilated.frame(0).astype(int) - source.frame(0)).mean(axis=-1)
    union0 = np.logical_or.reduce([m[0] for m in clip.masks.values()])
    ring0 = (ndimage.distance_transform_edt(~union0) >= 3) & (ndimage.distance_transform_edt(~union0) <= dilate - 1)
    assert ring_plain[ring0].mean() < diff[ring].mean()


def test_only_the_chosen_objects_are_changed(tmp_path, project, source, clip):
    out = open_video(render_video(project, source, tmp_path / "p.mp4", effect="solid", objects="person"))
    person, car = clip.masks[1][5], clip.masks[2][5]
    frame = out.frame(5).astype(int)
    assert frame[ndimage.binary_erosion(person, iterations=3)].mean() < 20  # filled black
    only_car = ndimage.binary_erosion(car & ~ndimage.binary_dilation(person, iterations=6), iterations=3)
    assert np.abs(frame[only_car] - source.frame(5)[only_car]).mean() < 6


class CountingSegmenter:
    """A test double: squares at the clicked points; it records every call, so a render that re-ran it shows."""

    name = "counting"

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.prompts: dict[int, tuple[int, int]] = {}

    def start(self, video):
        self.calls.append("start")

    def set_prompt(self, prompt):
        self.calls.append("set_prompt")
        self.prompts[prompt.obj_id] = (int(prompt.points[0].x), int(prompt.points[0].y))
        return {prompt.obj_id: ObjectMask(self._mask(prompt.obj_id), 0.9)}

    def _mask(self, oid):
        x, y = self.prompts[oid]
        m = np.zeros((H, W), bool)
        m[max(0, y - 20) : y + 20, max(0, x - 20) : x + 20] = True
        return m

    def remove_object(self, obj_id):
        self.calls.append("remove_object")

    def propagate(self, start, max_frames=None, reverse=False):
        self.calls.append("propagate")
        for f in range(start, N):
            yield SegmenterFrame(f, {oid: ObjectMask(self._mask(oid), 0.8) for oid in self.prompts})

    def reset(self):
        self.calls.append("reset")

    def close(self):
        self.calls.append("close")


def test_changing_the_strength_re_renders_without_running_the_segmenter(tmp_path, source):
    double = CountingSegmenter()
    with AnnotationSession(source, tmp_path / "s.awp", double) as session:
        face = session.add_object(name="face", category="person")
        session.add_points(0, face.obj_id, [(100, 90)])
        for _ in session.propagate("forward"):
            pass
        assert "propagate" in double.calls
        double.calls.clear()
        weak = preview_frame(session, session.video, 7, "blur", 0.1)[70:110, 80:120]
        strong = preview_frame(session, session.video, 7, "blur", 1.0, feather=4)[70:110, 80:120]
        a = open_video(render_video(session, source, tmp_path / "a.mp4", effect="pixelate", strength=0.2))
        b = open_video(render_video(session, source, tmp_path / "b.mp4", effect="pixelate", strength=1.0))
        assert double.calls == []  # stored masks only
    assert np.abs(weak.astype(int) - strong).mean() > 3
    assert np.abs(a.frame(7).astype(int) - b.frame(7))[75:105, 85:115].mean() > 3


def test_progress_is_reported_and_cancel_leaves_nothing(tmp_path, project, source):
    seen: list[tuple[int, int]] = []
    render_video(
        project, source, tmp_path / "ok.mp4", effect="dim", progress=lambda done, total: seen.append((done, total))
    )
    assert seen == [(i, N) for i in range(1, N + 1)]
    stop = threading.Event()

    def stop_after_three(done, total):
        if done == 3:
            stop.set()

    with pytest.raises(RenderCancelled, match="cancelled"):
        render_video(project, source, tmp_path / "cancelled.mp4", effect="blur", progress=stop_after_three, cancel=stop)
    assert sorted(p.name for p in tmp_path.iterdir() if "cancelled" in p.name) == []
    with pytest.raises(RenderCancelled):
        render_video(project, source, tmp_path / "cancelled.mp4", cancel=lambda: True)
    assert not (tmp_path / "cancelled.mp4").exists()


def _clip_with_audio(path: Path, frames: np.ndarray, fps: int) -> Path:
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        a = c.add_stream("aac", rate=44100)
        a.layout = "mono"
        for f in frames:
            for pkt in v.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                c.mux(pkt)
        t = np.arange(int(44100 * len(frames) / fps)) / 44100
        tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for k, i in enumerate(range(0, len(tone), 1024)):
            chunk = av.AudioFrame.from_ndarray(tone[None, i : i + 1024], format="flt", layout="mono")
            chunk.sample_rate, chunk.pts = 44100, k * 1024
            for pkt in a.encode(chunk):
                c.mux(pkt)
        for stream in (v, a):
            for pkt in stream.encode():
                c.mux(pkt)
    return path


def test_audio_in_the_source_is_ignored(tmp_path, clip):
    path = _clip_with_audio(tmp_path / "talk.mp4", clip.frames[:10], 10)
    assert _stream(path)["audio"] == 1
    video = open_video(path)
    with Project.create(tmp_path / "talk.awp", video) as p:
        oid = p.add_object().obj_id
        p.put_mask(2, oid, clip.masks[1][2])
        info = _stream(render_video(p, video, tmp_path / "talk_blur.mp4", effect="blur"))
    assert info["frames"] == 10 and info["audio"] == 0 and info["codec"] == "h264"


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*"))


def test_bad_input_is_a_clear_error_and_nothing_is_written(tmp_path, project, source):
    before = _listing(tmp_path)
    with pytest.raises(BackendError, match=r"unknown effect.*'sepia'.*blur"):
        render_video(project, source, tmp_path / "x.mp4", effect="sepia")
    with pytest.raises(PromptError, match="strength"):
        render_video(project, source, tmp_path / "x.mp4", effect="blur", strength=1.5)
    with pytest.raises(PromptError, match="no object of category or name 'dog'"):
        render_video(project, source, tmp_path / "x.mp4", effect="blur", objects="dog")
    (tmp_path / "a_file").write_text("in the way")
    with pytest.raises(AnnotatorError, match="a file is in the way"):
        render_video(project, source, tmp_path / "a_file" / "x.mp4", effect="blur")
    (tmp_path / "folder.mp4").mkdir()
    with pytest.raises(AnnotatorError, match="a folder is in the way"):
        render_video(project, source, tmp_path / "folder.mp4", effect="blur")
    assert _listing(tmp_path) == sorted([*before, "a_file", "folder.mp4"])
    with Project.create(tmp_path / "empty.awp", source) as empty:
        empty.add_object(name="nobody")
        with pytest.raises(AnnotatorError, match=r"project .*empty.awp has no masks: propagate first"):
            render_video(empty, source, tmp_path / "x.mp4", effect="blur")
    assert not (tmp_path / "x.mp4").exists()


def test_another_videos_frames_are_refused_before_anything_is_written(tmp_path, project, clip):
    other = open_video(write_clip(clip.frames[:, : H // 2, : W // 2], tmp_path / "other.mp4", fps=FPS))
    with pytest.raises(AnnotatorError, match="frame size is not the project's") as err:
        render_video(project, other, tmp_path / "x.mp4", effect="blur")
    assert err.value.given == {"video": f"{W // 2}x{H // 2}", "project": f"{W}x{H}"}
    assert "--video" in str(err.value)
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize("name", ["x.webm", "x.gif", "x.png"])
def test_an_output_the_writer_cannot_make_is_named_by_its_suffix(tmp_path, project, source, name):
    before = _listing(tmp_path)
    with pytest.raises(AnnotatorError, match=rf"cannot write a \.{name[2:]} video") as err:
        render_video(project, source, tmp_path / name, effect="blur")
    assert ".mp4" in (err.value.hint or "")
    assert _listing(tmp_path) == before  # no partial file left


def test_a_read_only_output_folder_is_refused(tmp_path, project, source):
    if os.geteuid() == 0:  # root writes anywhere chmod says not to: use a read-only file system instead
        folder = Path("/sys")
    else:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o500)
    with pytest.raises(AnnotatorError, match="read-only"):
        render_video(project, source, folder / "x.mp4", effect="blur")
    assert not (folder / "x.mp4").exists() and not (folder / ".x.partial.mp4").exists()


def test_trails_and_labels_are_drawn_over_the_effect(tmp_path, project, source):
    plain = open_video(render_video(project, source, tmp_path / "plain.mp4", effect="solid"))
    drawn = open_video(render_video(project, source, tmp_path / "trails.mp4", effect="solid", trails=10, labels=True))
    diff = np.abs(drawn.frame(N - 1).astype(int) - plain.frame(N - 1)).mean(axis=-1)
    assert (diff > 40).sum() > 100  # trail lines and label boxes
    first = np.abs(drawn.frame(0).astype(int) - plain.frame(0)).mean(axis=-1)
    assert (first > 40).sum() < (diff > 40).sum()  # frame 0 has no trail yet (labels only)


def test_cli_render_takes_objects_dilate_feather_and_trails(tmp_path, project, source, capsys):
    project.close()
    out = tmp_path / "cli.mp4"
    args = [str(project.path), "--video", str(source.path), "--out", str(out), "--effect", "blur"]
    code = main(["-q", "render", *args, "--objects", "person", "--dilate", "4", "--feather", "6", "--trails", "8"])
    assert code == 0 and out.exists() and _stream(out)["frames"] == N
    assert capsys.readouterr().out.strip().endswith("cli.mp4")
    assert main(["-q", "render", *args, "--objects", "1,2", "--strength", "0.3"]) == 0
    assert main(["-q", "render", *args, "--objects", "dog"]) == 2
    assert "no object of category or name 'dog'" in capsys.readouterr().err
    assert main(["-q", "render", *args, "--dilate", "-3"]) == 2
