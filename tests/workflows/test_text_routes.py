"""The real routes of add_text: faces (MediaPipe, offline) on the crossing clip and a portrait, people (pose) on
bikes.mp4, tiny OWLv2 / Florence-2 / Grounding DINO folders, SAM 3's masks, and SAM 3's own tracking seeded
into the session's tracker so that a click refines; wrong folders and missing weights say what to do."""

from __future__ import annotations

import numpy as np
import pytest

from annotator_widgets import AnnotationSession, checkpoints, registry
from annotator_widgets.backends.face_bundle import BUILT_NAME
from annotator_widgets.data import synthetic_clip
from annotator_widgets.errors import BackendError, CheckpointError
from annotator_widgets.types import box_iou
from annotator_widgets.workflows.text import add_text
from annotator_widgets.workflows.text_tracking import propagate_text, track_concept
from tests.backends.test_grounders import GROUNDED, _forcing
from tests.support.people import crossing_clip, face_box, portrait, pose_bundle
from tests.support.sam3_models import TINY_OPTIONS, build_tiny_sam3
from tests.support.vlm import BUILDERS

TINY = {"device": "cpu", "dtype": "float32", "nms_iou": 1.0, "min_size": 0.0}


def _iou(a, b) -> float:
    return float(box_iou([tuple(a)], [tuple(b)])[0, 0])


def _state(session):
    p = session.project
    return ([o.obj_id for o in p.objects()], len(p.detections(rejected=None)), len(p.prompts()), len(p.history()))


@pytest.fixture(scope="module")
def face_model():
    return checkpoints.fetch(BUILT_NAME, progress=False)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folders: dict[str, object] = {}

    def get(name: str):
        if name not in folders:
            build = build_tiny_sam3 if name == "sam3" else BUILDERS[name]
            folders[name] = build(tmp_path_factory.mktemp(name.replace("-", "_")))
        return folders[name]

    return get


def test_faces_on_the_crossing_clip_then_redetection_keeps_them(face_model):
    clip = crossing_clip(num_frames=60)  # 16 of 60 frames: faces move ~8 px a frame, which the classic tracker follows
    with AnnotationSession(clip.frames[:16], segmenter="classic", show_progress=False) as s:
        made = add_text(s, 0, "faces")  # auto -> the offline face route
        assert [o.name for o in made] == ["faces", "faces"] and all(o.meta["route"] == "faces" for o in made)
        assert {p.text for p in s.prompts(0)} == {"faces"} and len(s.prompts(0)) == 2
        dets = s.project.detections(0)
        centres = {d.obj_id: ((d.box.x0 + d.box.x1) / 2, (d.box.y0 + d.box.y1) / 2) for d in dets.values()}
        # each face box is centred on one person's true face (tracks: face centres)
        for person, track in clip.tracks.items():
            d = min(np.hypot(cx - track[0][0], cy - track[0][1]) for cx, cy in centres.values())
            assert d < clip.face_width[person] / 2, (person, d)
        assert {d.model for d in dets.values()} == {"mediapipe-face"}
        assert sorted(d.obj_id for d in dets.values()) == sorted(o.obj_id for o in made)
        assert all(m.any() for m in s.masks(0).values())
        assert {w.kind for w in s.project.warnings(0)} <= {"box_as_mask"}  # classic finds nothing in a face box
        list(propagate_text(s, every=5))
        assert [o.obj_id for o in s.objects] == sorted(o.obj_id for o in made)  # same two people, no new object
        for frame in (5, 10):  # each re-detected face is linked to the object tracking that person
            linked = s.project.detections(frame)
            assert sorted(d.obj_id for d in linked.values() if d.obj_id) == sorted(o.obj_id for o in made)
            for d in linked.values():
                assert d.meta["iou"] >= 0.5


def test_face_on_a_portrait(face_model):
    img = portrait("astronaut")
    with AnnotationSession(img[None], segmenter="classic", show_progress=False) as s:
        (obj,) = add_text(s, 0, "a face")
        (p,) = s.prompts(0)
        assert obj.name == "a face" and p.text == "a face"
        assert _iou(p.box.xyxy, face_box("astronaut")) > 0.5


def test_people_on_bikes(bikes_path):
    pose_bundle()
    with AnnotationSession(bikes_path, segmenter="classic", show_progress=False) as s:
        made = add_text(s, 120, "person")  # auto -> the pose model, offline
        assert made and all(o.name == "person" and o.meta["route"] == "people" for o in made)
        (p,) = [p for p in s.prompts(120) if p.obj_id == made[0].obj_id]
        assert p.text == "person" and p.box.x1 - p.box.x0 > 50 and p.box.y1 - p.box.y0 > 100  # measured 134 x 239
        assert s.masks(120)[made[0].obj_id].sum() > 1000
        assert {d.model for d in s.project.detections(120).values()} == {"pose:mediapipe"}


@pytest.fixture(scope="module")
def frames():
    return synthetic_clip(num_frames=3, size=(320, 180), num_objects=1).frames


@pytest.mark.parametrize("name", ["owlv2", "florence2", "grounding-dino"])
def test_tiny_grounders_through_add_text(tiny, frames, name):
    phrase = "a cat"
    with AnnotationSession(frames, segmenter="classic", show_progress=False) as s:
        if name == "owlv2":
            made = add_text(s, 1, phrase, route=f"grounder:{name}:{tiny(name)}", threshold=0.0, top_k=2, **TINY)
        else:  # an instance, as the widget passes its loaded grounder
            extra = {"max_new_tokens": 40, "num_beams": 1} if name == "florence2" else {}
            g = registry.resolve("grounder", f"{name}:{tiny(name)}", threshold=0.0, top_k=2, **TINY, **extra)
            if name == "florence2":  # random weights write no location tokens: force a grounded answer
                _, procs = _forcing(g.processor.tokenizer, GROUNDED, [0.8] * 60)
                generate = g.model.generate
                g.model.generate = lambda **kw: generate(**kw, logits_processor=procs)
            made = add_text(s, 1, phrase, grounder=g, max_objects=2)
        assert made and all(o.name == phrase and o.category == phrase for o in made)
        assert {p.text for p in s.prompts(1)} == {phrase}
        dets = s.project.detections(1)
        assert {d.model for d in dets.values()} == {name} and {d.label for d in dets.values()} == {phrase}
        assert {d.obj_id for d in dets.values() if d.obj_id} == {o.obj_id for o in made}
        if name == "florence2":  # the forced box: <loc_100><loc_200><loc_300><loc_400> of 320x180
            boxes = [d.box.xyxy for d in dets.values()]
            assert any(np.allclose(b, (32.16, 36.09, 96.16, 72.09), atol=0.01) for b in boxes), boxes


def test_propagate_text_remembers_the_folder_route_also_in_a_reopened_project(tiny, frames, tmp_path, monkeypatch):
    route = f"grounder:owlv2:{tiny('owlv2')}"
    opts = {"threshold": 0.0, "top_k": 2, **TINY}
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the hub's default OWLv2 is not there: using it would raise
    monkeypatch.setenv("HF_HOME", str(tmp_path / "no-cache"))
    path = tmp_path / "p.awp"
    with AnnotationSession(frames, project=path, segmenter="classic", show_progress=False) as s:
        made = add_text(s, 0, "a cat", route=route, **opts)
        assert made and all(o.meta["route"] == route for o in made)
        list(propagate_text(s, every=1, **opts))  # no route=: the objects' route is used
        redetected = s.project.detections(1)
        assert redetected and {d.meta["route"] for d in redetected.values()} == {route}
    with AnnotationSession(frames, project=path, segmenter="classic", show_progress=False) as s:
        assert all(o.meta["route"] == route for o in s.objects)
        list(propagate_text(s, every=1, start=0, stop=2, **opts))
        assert {d.meta["route"] for d in s.project.detections(1).values()} == {route}
        with pytest.raises(CheckpointError):  # an explicit route still wins over the remembered one
            propagate_text(s, every=1, route="grounder:owlv2", **opts)


def test_wrong_architecture_and_missing_weights_leave_nothing(tiny, small_frames, monkeypatch):
    with AnnotationSession(small_frames, segmenter="classic", show_progress=False) as s:
        before = _state(s)
        with pytest.raises(BackendError):
            add_text(s, 0, "a cat", route=f"grounder:grounding-dino:{tiny('owlv2')}", **TINY)
        assert _state(s) == before
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        monkeypatch.setenv("HF_HOME", str(tiny("owlv2")) + "-no-cache")
        with pytest.raises(CheckpointError) as info:
            add_text(s, 0, "a red car")  # auto -> owlv2 from the hub, not downloaded
        assert "route='faces'" in (info.value.hint or "") and "offline" in (info.value.hint or "")
        text = str(info.value)  # the loader's message, given and fix once each, then the offline routes
        assert text.count("cannot load the OWLv2 model") == 1 and text.count("Fix:") == 1, text
        assert _state(s) == before


def test_sam3_concept_route_prompts_with_masks(tiny, small_frames):
    with AnnotationSession(small_frames, segmenter="classic", show_progress=False) as s:
        opts = {**TINY_OPTIONS, "device": "cpu", "dtype": "float32", "max_instances": 2}
        made = add_text(s, 0, "a cat", route=f"concept:sam3:{tiny('sam3')}", **opts)
        assert made and all(o.meta["route"] == f"concept:sam3:{tiny('sam3')}" for o in made)
        for o in made:
            (p,) = [p for p in s.prompts(0) if p.obj_id == o.obj_id]
            assert p.mask is not None and p.text == "a cat"  # SAM 3's mask is the prompt
            assert np.array_equal(s.masks(0)[o.obj_id], p.mask.to_mask())


def test_track_concept_streams_objects_and_a_click_refines(tiny, small_frames):
    folder = tiny("sam3")
    tracker = registry.resolve("segmenter", f"sam3-tracker:{folder}", device="cpu", dtype="float32")
    with AnnotationSession(small_frames, segmenter=tracker, show_progress=False) as s:
        opts = {**TINY_OPTIONS, "device": "cpu", "dtype": "float32", "max_instances": 2}
        done = []
        made = track_concept(s, "a cat", concept=f"sam3:{folder}", progress=lambda *a: done.append(a), **opts)
        n = len(small_frames)
        assert made and done[-1] == (n, n)
        assert s.project.history()[-1].label.startswith("track a cat")
        obj = next(iter(made.values()))
        frames = s.project.mask_frames(obj.obj_id)
        assert obj.name == "a cat" and len(frames) >= n // 2
        (seed,) = [p for p in s.prompts() if p.obj_id == obj.obj_id]  # the first mask is its mask prompt
        assert seed.mask is not None and seed.text == "a cat" and seed.frame == frames[0]
        before = s.masks(seed.frame)[obj.obj_id]
        ys, xs = np.nonzero(~before)
        after = s.add_points(seed.frame, obj.obj_id, [(float(xs[0]), float(ys[0]))])[obj.obj_id]
        assert not np.array_equal(after, before)  # the tracker, seeded from the stored masks, took the click
        (p,) = [p for p in s.prompts(seed.frame) if p.obj_id == obj.obj_id]
        assert p.mask is not None and len(p.points) == 1
