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
# # A privacy video: track once, blur from the stored masks
#
# Masks are made once (clicks + propagation) and stored in the project. Every effect after that -
# blur, pixelate, a solid fill, an outline, dimming the background - is rendered from those stored
# masks only: changing the effect or its strength re-renders in milliseconds and never runs the
# segmenter again.
#
# This notebook uses a generated clip (with its true masks) and the zero-download `classic` segmenter
# (OpenCV), so it runs anywhere, also headless.

# %%
import time
from pathlib import Path

import numpy as np
from IPython.display import Video, display
from PIL import Image

import annotator_widgets as aw
from annotator_widgets import registry
from annotator_widgets.data import synthetic_clip, write_video
from annotator_widgets.render import preview_frame, render_video

OUT = Path("privacy_out")
OUT.mkdir(exist_ok=True)

clip = synthetic_clip(num_frames=48, size=(480, 270), num_objects=2, seed=11)
video = aw.open_video(write_video(clip.frames, OUT / "street.mp4", fps=clip.fps))
video

# %% [markdown]
# ## 1. Masks, once: a click per object on frame 0, then propagate
#
# The category is what the effects choose by later (`objects="person"`).

# %%
project = aw.Project.create(OUT / "privacy.awp", video, overwrite=True)
session = aw.AnnotationSession(video, project, segmenter="classic")
for truth_id, truth in clip.masks.items():
    ys, xs = np.nonzero(truth[0])
    obj = session.add_object(name=f"passer-by {truth_id}", category="person" if truth_id == 1 else "bag")
    session.add_points(0, obj.obj_id, [(float(np.median(xs)), float(np.median(ys)))])
for _ in session.propagate("forward"):
    pass
print(session.progress, "| effects available:", registry.names("effect"))

# %% [markdown]
# ## 2. Blur, and a live preview as the strength changes
#
# `preview_frame` is what a slider calls on every move: one frame, from the stored masks.

# %%
frame = 30
tiles = []
for strength in (0.2, 0.6, 1.0):
    t0 = time.perf_counter()
    tiles.append(preview_frame(session, video, frame, "blur", strength, dilate=4, feather=6))
    print(f"strength {strength}: preview in {1000 * (time.perf_counter() - t0):.0f} ms")
Image.fromarray(np.hstack(tiles))

# %% [markdown]
# Only the people, pixelated, with their trails over the last 15 frames:

# %%
Image.fromarray(preview_frame(session, video, frame, "pixelate", 0.8, objects="person", trails=15, labels=True))

# %% [markdown]
# ## 3. Render the MP4 (H.264, plays in the browser), then change the strength and render again
#
# No tracking happens here: both renders read the masks stored in step 1.

# %%
t0 = time.perf_counter()
soft = render_video(session, video, OUT / "blur_soft.mp4", effect="blur", strength=0.3, dilate=4, feather=6)
strong = render_video(session, video, OUT / "blur_strong.mp4", effect="blur", strength=1.0, dilate=4, feather=6)
print(f"two renders of {len(video)} frames in {time.perf_counter() - t0:.1f} s")
display(Video(str(strong), embed=True, width=480))

# %% [markdown]
# The same from a shell:
#
# ```
# annotator-widgets render project.awp --video street.mp4 --out blurred.mp4 \
#     --effect blur --strength 0.8 --objects person --dilate 4 --feather 6 --trails 15
# ```

# %%
session.close()
project.close()
sorted(p.name for p in OUT.iterdir() if p.suffix in (".mp4", ".awp"))
