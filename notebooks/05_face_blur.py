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
# # Blur faces, with no model hub
#
# The `"faces"` route is MediaPipe's face detector, built from the mediapipe wheel on PyPI: nothing is
# downloaded from a model hub. The faces are found on the first frame, tracked by the zero-download
# `classic` segmenter, found again every 10 frames (a face that appears later becomes a new object),
# and blurred in an MP4 rendered from the stored masks.

# %%
import time
from pathlib import Path

import numpy as np
from IPython.display import Video, display
from PIL import Image

import annotator_widgets as aw
from annotator_widgets.data import sample_video
from annotator_widgets.render import preview_frame, render_video
from annotator_widgets.workflows.text import add_text
from annotator_widgets.workflows.text_tracking import propagate_text

OUT = Path("faces_out")
OUT.mkdir(exist_ok=True)
video = aw.open_video(sample_video("carphone"))
project = aw.Project.create(OUT / "carphone.awp", video, overwrite=True)
session = aw.AnnotationSession(video, project, segmenter="classic", show_progress=False)
video

# %%
faces = add_text(session, 0, "faces")
print([(o.obj_id, o.name) for o in faces], [f"{d.score:.2f}" for d in project.detections(0).values()])
t0 = time.perf_counter()
n = sum(1 for _ in propagate_text(session, every=10))
print(f"{n} frames in {time.perf_counter() - t0:.1f} s; objects {[o.obj_id for o in session.objects]}")
print("warnings:", [(w.frame, w.obj_id, w.kind) for w in project.warnings()][:5])

# %%
Image.fromarray(np.hstack([video.frame(60), preview_frame(session, video, 60, "blur", 1.0, dilate=4, feather=4)]))

# %%
out = render_video(session, video, OUT / "carphone_blurred.mp4", effect="blur", strength=1.0, dilate=4, feather=4)
display(Video(str(out), embed=True, width=352))
session.close()
project.close()
