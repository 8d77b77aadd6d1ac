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
# # What do you want to track? A phrase becomes masklets, with re-detection
#
# 1. **A phrase -> objects**: `add_text` asks a *route* where the phrase is on one frame, stores what the model
#    said (boxes, scores) and makes one object per instance, named by the phrase and prompted with its box.
# 2. **Propagation with re-detection**: `propagate_text` propagates in chunks of K frames; at each chunk's end
#    it asks the route again, matches its boxes to the masklets (Hungarian assignment on box IoU): matched
#    objects keep their ids, instances that were not there before become new objects.
# 3. **A blurred MP4** rendered from the stored masks (no model runs again).
#
# By default the phrase is `"person"`, which takes the zero-download pose route on a real clip. To use an
# open-vocabulary grounder instead, set `GROUNDER` below (or the `AW_GROUNDER` environment variable) to a
# grounder spec such as `"owlv2"` (downloads `google/owlv2-base-patch16-ensemble`) or `"owlv2:<folder>"`.

# %% tags=["parameters"]
import os

GROUNDER = os.environ.get("AW_GROUNDER", "")  # "" = the offline routes; e.g. "owlv2", "grounding-dino:<folder>"
PHRASE = "a person" if GROUNDER else "person"
START, STOP, EVERY = 100, 160, 10

# %%
import time
from pathlib import Path

from IPython.display import Video, display
from PIL import Image

import annotator_widgets as aw
from annotator_widgets.data import sample_video
from annotator_widgets.render import preview_frame, render_video
from annotator_widgets.workflows.text import add_text
from annotator_widgets.workflows.text_tracking import propagate_text

OUT = Path("text_out")
OUT.mkdir(exist_ok=True)
video = aw.open_video(sample_video("bikes"))
project = aw.Project.create(OUT / "bikes.awp", video, overwrite=True)
session = aw.AnnotationSession(video, project, segmenter="classic", show_progress=False)
route = f"grounder:{GROUNDER}" if GROUNDER else "auto"
# a random test model finds boxes everywhere: keep the best few
options = {"threshold": 0.0, "top_k": 3} if GROUNDER else {}
video

# %% [markdown]
# ## 1. The phrase on one frame -> objects

# %%
objects = add_text(session, START, PHRASE, route=route, max_objects=3, **options)
for det_id, det in project.detections(START).items():
    print(det_id, det.label, f"{det.score:.2f}", det.model, "-> object", det.obj_id)
Image.fromarray(preview_frame(session, video, START, "outline", 1.0, labels=True))

# %% [markdown]
# ## 2. Propagate, re-detecting every `EVERY` frames

# %%
t0 = time.perf_counter()
frames = [r.frame for r in propagate_text(session, every=EVERY, stop=STOP, route=route, **options)]
print(f"{len(frames)} frames in {time.perf_counter() - t0:.1f} s")
for o in session.objects:
    print(
        o.obj_id,
        o.name,
        "prompted on",
        project.prompt_frames(o.obj_id),
        "masks on",
        len(project.mask_frames(o.obj_id)),
        "frames",
    )

# %% [markdown]
# ## 3. Blur them, from the stored masks

# %%
out = render_video(
    session, video, OUT / "bikes_blurred.mp4", effect="blur", strength=0.9, dilate=6, feather=6, start=START, stop=STOP
)
display(Video(str(out), embed=True, width=640))

# %%
session.close()
project.close()
sorted(p.name for p in OUT.iterdir())
