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
# # annotator_widgets in Colab
#
# Install, check the GPU, fetch a SAM 2.1 checkpoint, annotate an uploaded video, export COCO and download it.
# Every cell also runs offline outside Colab (CI executes this notebook): the install is skipped when the package
# imports, the checkpoint download only runs in Colab, and a generated clip stands in for the upload.

# %%
import importlib.util
import subprocess
import sys

IN_COLAB = importlib.util.find_spec("google.colab") is not None
if importlib.util.find_spec("annotator_widgets") is None:  # Colab: install once (a minute or two)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "annotator-widgets[widgets,sam2]"], check=True)
import annotator_widgets as aw

print("annotator_widgets", aw.__version__, "| in Colab:", IN_COLAB)

# %% [markdown]
# ## GPU check
#
# In Colab: *Runtime > Change runtime type > GPU*. SAM 2.1 runs on the CPU too, slowly; the default
# segmenter without a checkpoint (GrabCut + optical flow) needs neither a GPU nor weights.

# %%
if importlib.util.find_spec("torch") is not None:
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU (no CUDA device)"
else:
    device = "CPU (torch is not installed: the classic segmenter is used)"
print("device:", device)

# %% [markdown]
# ## Checkpoints
#
# `annotator-widgets checkpoints fetch sam2.1_hiera_tiny` downloads SAM 2.1 tiny (with its sha256 checked)
# into the cache folder; `segmenter="auto"` then uses it. Offline (CI) it is not run and `"auto"` falls back
# to the classic segmenter.

# %%
FETCH = [sys.executable, "-m", "annotator_widgets.checkpoints", "fetch", "sam2.1_hiera_tiny"]
if IN_COLAB:
    subprocess.run(FETCH, check=True)
else:
    print("offline: skipped", " ".join(FETCH[2:]))

# %% [markdown]
# ## A video
#
# In Colab the upload dialog opens (pick an MP4); elsewhere a generated clip with two moving shapes is used.

# %%
from pathlib import Path

import numpy as np

from annotator_widgets.data import synthetic_clip, write_video

OUT = Path("colab_out")
OUT.mkdir(exist_ok=True)
clip = None
if IN_COLAB:
    from google.colab import files

    uploaded = files.upload()
    path = OUT / next(iter(uploaded))
    path.write_bytes(next(iter(uploaded.values())))
else:
    clip = synthetic_clip(num_frames=30, size=(320, 180), num_objects=2, seed=3)
    path = write_video(clip.frames, OUT / "sample.mp4", fps=clip.fps)
video = aw.open_video(path)
video

# %% [markdown]
# ## The annotator
#
# Click an object (shift-click: negative point), drag a box, then *Propagate*. The widget enables Colab's
# custom widget manager itself.

# %%
session = aw.AnnotationSession(video, aw.Project.create(OUT / "colab.awp", video, overwrite=True), segmenter="auto")
annotator = aw.VideoAnnotator(session)
annotator

# %% [markdown]
# Headless (and in CI): prompt the sample's shapes from code and propagate, as clicks would.

# %%
if clip is not None:
    for truth_id, truth in clip.masks.items():
        ys, xs = np.nonzero(truth[0])
        obj = session.add_object(name=f"shape {truth_id}")
        session.add_points(0, obj.obj_id, [(float(np.median(xs)), float(np.median(ys)))])
    session.run("both")
session.project.stats()

# %% [markdown]
# ## Export and download

# %%
from annotator_widgets.export import save_coco

coco = save_coco(session, OUT / "coco.json")
print(coco)
if IN_COLAB:
    files.download(str(OUT / "coco.json"))

# %% [markdown]
# Many videos at once (resumable, locally or on a Ray cluster): `annotator-widgets batch "videos/*.mp4" --out runs/
# --prompts "prompts/{stem}.json" --format coco,yolo` (see the README's *Batches and clusters*).

# %%
session.close()
