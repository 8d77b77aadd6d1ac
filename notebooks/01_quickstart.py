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
# # annotator_widgets quickstart
#
# Click positive and negative points on a frame for each object, see the mask at once, propagate it
# through the video forward and backward, fix drift with a click on a later frame, export.
#
# Everything here runs offline. The segmenter is `"auto"`: SAM 2.1 when its checkpoint is on disk
# (`python -m annotator_widgets.checkpoints fetch sam2.1_hiera_tiny`), otherwise the OpenCV
# segmenter (GrabCut + optical flow) that needs no weights.
#
# In Colab: `pip install "annotator-widgets[all]"` first; the widget enables Colab's custom widget manager itself.

# %%
from pathlib import Path

import numpy as np
from PIL import Image

import annotator_widgets as aw
from annotator_widgets.data import synthetic_clip, write_video
from annotator_widgets.export import save_coco
from annotator_widgets.render import Renderer, render_video

OUT = Path("quickstart_out")
OUT.mkdir(exist_ok=True)

# a generated clip with two moving textured shapes (and their true masks, to check the result)
clip = synthetic_clip(num_frames=60, size=(480, 270), num_objects=2, seed=7)
video = aw.open_video(write_video(clip.frames, OUT / "sample.mp4", fps=clip.fps))  # or aw.open_video("your.mp4")
video

# %% [markdown]
# ## A session: the video, a project file that keeps everything, and a segmenter

# %%
project = aw.Project.create(OUT / "quickstart.awp", video, overwrite=True)
session = aw.AnnotationSession(video, project, segmenter="auto")
session

# %% [markdown]
# ## The annotator widget
#
# Click on an object to add a positive point (shift-click or right-click: negative), drag for a box,
# then *Propagate*. The `?` button lists every keyboard shortcut.

# %%
annotator = aw.VideoAnnotator(session)
annotator

# %% [markdown]
# ## The same session from code
#
# Clicks are video pixels. Here we click the middle of each shape on frame 0.

# %%
truth_of = {}  # our object id -> the clip's ground-truth id
for truth_id, truth in clip.masks.items():
    ys, xs = np.nonzero(truth[0])
    shape = session.add_object(name=f"shape {truth_id}", category="shape")
    masks = session.add_points(0, shape.obj_id, [(float(np.median(xs)), float(np.median(ys)))])
    truth_of[shape.obj_id] = truth_id

for step in session.propagate("forward"):  # a generator: drive your own progress, stop to cancel
    pass
print(session.progress)

# %%
frame = 40
Image.fromarray(
    Renderer().annotate(
        video.frame(frame), session.masks(frame), objects=session.objects, prompts=session.prompts(frame)
    )
)

# %% [markdown]
# How good is it? The clip comes with its true masks:

# %%
from annotator_widgets.rle import mask_iou

ious = [
    mask_iou(a.rle, clip.masks[truth_of[a.obj_id]][a.frame])
    for a in session.project.iter_annotations()
    if a.obj_id in truth_of
]
print(f"mean IoU over {len(ious)} masks: {np.mean(ious):.3f}")

# %% [markdown]
# ## Export and render
#
# COCO with RLE masks and object ids, label PNGs, an annotated MP4, and a privacy-blurred MP4
# rendered from the stored masks (no re-tracking).

# %%
save_coco(session, OUT / "coco.json")
render_video(session, video, OUT / "annotated.mp4")
render_video(session, video, OUT / "blurred.mp4", effect="blur", strength=0.8)
sorted(p.name for p in OUT.iterdir())
