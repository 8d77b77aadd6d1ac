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
# # Find by text, then track
#
# Type a phrase ("red shoes"), find the **first frame** where a region matches it, track that region
# through the whole video, and draw its trajectory. The CLIP + SAM2 recipe:
#
# 1. candidate masks on a frame: a grid of point prompts through the segmenter (or a grounder's boxes);
# 2. each candidate cropped with its background masked out and scored against the phrase by CLIP or SigLIP;
# 3. a coarse-to-fine scan over the video (every k-th frame, then the frames just before the first hit);
# 4. the found mask becomes the object's prompt, tracked forward and backward.
#
# **Models.** `AW_SCORER` picks the scorer: a registry spec such as `clip` (openai/clip-vit-base-patch32),
# `siglip`, `siglip2`, or `clip:<folder>` saved with `save_pretrained`. Only what is already on disk is
# loaded unless `AW_DOWNLOAD=1`. Without any weights this notebook uses a labelled **stand-in** (it
# scores how red a crop is; not a language model) so it still runs offline from start to end.

# %%
import os
from pathlib import Path

import numpy as np
from PIL import Image

import annotator_widgets as aw
from annotator_widgets.data import synthetic_clip
from annotator_widgets.errors import CheckpointError, MissingDependencyError, NotFoundError
from annotator_widgets.render import preview_frame, render_video
from annotator_widgets.workflows.find import find_text, track_from

OUT = Path("find_out")
OUT.mkdir(exist_ok=True)

TEXT = os.environ.get("AW_TEXT", "a red shape")
SCORER = os.environ.get("AW_SCORER", "clip")
THRESHOLD = float(os.environ.get("AW_THRESHOLD", "0.5"))
DOWNLOAD = os.environ.get("AW_DOWNLOAD") == "1"

# %% [markdown]
# ## A clip where the target appears at a known frame
#
# A generated clip of two moving shapes; the second turns red on frame `RED_FROM` (blue before), so
# the right answer is known.

# %%
RED_FROM = 17
clip = synthetic_clip(num_frames=40, size=(128, 96), num_objects=2, seed=3)
frames = clip.frames.copy()
for t in range(len(frames)):
    frames[t][clip.masks[2][t]] = (230, 20, 20) if t >= RED_FROM else (20, 20, 230)
video = aw.open_video(frames, fps=clip.fps)
project = aw.Project.create(OUT / "find.awp", video, overwrite=True)
session = aw.AnnotationSession(video, project, segmenter="auto")  # SAM 2.1 when on disk, else OpenCV
session


# %% [markdown]
# ## The scorer
#
# A real scorer from the registry when its weights are here; else the stand-in. A scorer is any object
# with `embed_images`, `embed_text`, `score` and `close` (the `MaskScorer` protocol), so registering
# your own is one line: `aw.registry.register("scorer", "mine", MyScorer)`.


# %%
class RednessStandIn:
    """STAND-IN, not a language model: a crop's 'embedding' is its share of red pixels."""

    name = "redness-stand-in"

    def embed_images(self, crops):
        red = [np.mean((c[..., 0] > 180) & (c[..., 1] < 80) & (c[..., 2] < 80)) for c in crops]
        return np.array([[r, 1.0 - r] for r in red], np.float32)

    def embed_text(self, phrases):
        return np.array([[1.0, 0.0] if "red" in p else [0.0, 0.0] for p in phrases], np.float32)

    def score(self, image_embeddings, text_embeddings):
        return np.clip(image_embeddings @ text_embeddings.T, 0.0, 1.0)

    def close(self):
        pass


try:
    scorer = aw.registry.resolve("scorer", SCORER, local_files_only=not DOWNLOAD)
except (CheckpointError, MissingDependencyError) as exc:
    print(f"{SCORER!r} is not available here ({type(exc).__name__}); using the stand-in scorer")
    scorer, THRESHOLD = RednessStandIn(), 0.2
print("scorer:", scorer.name, "threshold:", THRESHOLD)

# %% [markdown]
# ## Find the first frame
#
# `every=8`: frames 0, 8, 16, ... first, then the frames between the last miss and the first hit.
# Candidate embeddings are cached in the project, so asking again (another phrase) only runs the text model.

# %%
# candidates: a 3x3 grid of clicks through a scratch copy of the segmenter (nothing is stored); for
# the OpenCV segmenter a quicker GrabCut setting, since it runs once per click
quick = {"prompt_iterations": 1, "refine_edges": False} if session.segmenter.name == "classic" else {}
scratch = aw.registry.resolve("segmenter", session.segmenter.name, **quick)
try:
    found = find_text(session, TEXT, every=8, threshold=THRESHOLD, scorer=scorer, segmenter=scratch, grid=3)
except NotFoundError as exc:
    print(exc)  # says the best score seen and where: lower the threshold or rephrase
    raise
print(
    f"{TEXT!r} first on frame {found.frame} (score {found.score:.2f}), {found.frames_scored}/{len(video)} frames scored"
)
print("score curve:", {f: round(s, 2) for f, s in found.curve.items()})
Image.fromarray(aw.render.Renderer().annotate(video.frame(found.frame), {1: found.mask}))

# %% [markdown]
# ## Track it both ways, then draw its trajectory

# %%
target = track_from(session, found)
print(target, "masks on", len(session.project.mask_frames(target.obj_id)), "frames")
Image.fromarray(preview_frame(session, video, len(video) - 1, effect=None, trails=30, labels=True))

# %%
path = render_video(session, video, OUT / "found_and_tracked.mp4", trails=30, labels=True)
scorer.close()
scratch.close()
session.close()
project.close()
path.name, path.stat().st_size > 0
