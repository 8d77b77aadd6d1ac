"""The Actions tool, kernel-side, on the interaction clip (a real person cut-out and a ball held on known frames):
Find interactions in a worker, bars per person on the strip, a click on a bar jumps, edit / delete / undo, the
description drawn on the frames of its segment, Describe with a tiny real captioner."""

from __future__ import annotations

import numpy as np
import pytest

from annotator_widgets import AnnotationSession, VideoAnnotator
from annotator_widgets.errors import AnnotatorError
from annotator_widgets.types import ActionSegment
from annotator_widgets.widgets.notes import note_lines
from annotator_widgets.widgets.tools.interactions import ActionsTool
from tests.support.interaction_clip import BALL, FAR, PERSON, interaction_clip, store

HOLD = (15, 27)


@pytest.fixture(scope="module")
def clip():
    return interaction_clip(num_frames=40, hold=HOLD)


@pytest.fixture
def ann(clip, tmp_path):
    session = AnnotationSession(clip.frames, project=tmp_path / "a.awp", segmenter="classic")
    store(session.project, clip)
    widget = VideoAnnotator(session, tools=["points", "actions"], max_display_side=320)
    yield widget
    widget.close()
    session.close()


def _bar_centre(tool, aid):
    x, y, w, h = tool.strip.layout.bar(tool.strip.rows, aid, tool.strip.segments[aid])
    return x + w / 2, y + h / 2


def test_find_interactions_runs_in_a_worker_and_shows_bars_per_person(ann):
    tool = ann.tools["actions"]
    assert isinstance(tool, ActionsTool) and tool.strip.segments == {}
    ids = tool.find().result(120)
    assert ids and not ann.busy and "action segments" in ann.status
    held = [s for s in ann.session.project.actions().values() if s.obj_id == BALL]
    assert len(held) == 1 and abs(held[0].start - HOLD[0]) <= 3 and abs(held[0].stop - HOLD[1]) <= 3
    assert set(tool.strip.segments) == set(ids) and tool.strip.rows == [PERSON]
    assert [v for _, v in tool.choice.options] == list(ann.session.project.actions())


def test_finding_nothing_says_how_close_the_closest_hand_came(ann):
    """Nothing found said "see the log for the closest hand distances": a notebook shows no log, so the status
    line now says it (the ball is held on frames 15..27 only)."""
    tool = ann.tools["actions"]
    assert tool.find(start=0, stop=10).result(120) == []
    assert not ann.busy
    status = ann.status
    assert status.startswith("no interaction found on frames 0..9: the closest a hand came to an object is ")
    assert f"(person {PERSON}, object " in status and "a touch is below" in status and "log" not in status


def test_describe_without_segments_says_to_find_them_first(ann):
    """Describe with no segment loaded the captioner (8.7 s on bikes.mp4) to say "described 0 segments"."""
    tool = ann.tools["actions"]
    tool.captioner = "no-such-captioner:/nowhere"  # never loaded: the check comes first
    tool.describe_button.click()
    assert "no action segment to describe" in ann.error and "Find interactions first" in ann.error
    assert not ann.busy


def test_a_click_on_a_bar_jumps_to_its_start_and_edits_are_undoable(ann):
    p = ann.session.project
    far = p.add_action(ActionSegment(3, 9, "waves at", PERSON, FAR, "waves"))
    ball = p.add_action(ActionSegment(20, 30, "holds", PERSON, BALL, "holds the ball"))
    tool = ann.tools["actions"]
    ann.refresh()
    assert tool.strip.segment_at(*_bar_centre(tool, ball)) == ball
    tool.strip._down(*_bar_centre(tool, ball))  # what the canvas' mouse-down handler calls
    assert tool.selected == ball and ann.frame == 20
    assert (tool.start_box.value, tool.stop_box.value, tool.label_text.value) == (20, 30, "holds")
    assert tool.strip.segment_at(1, 1) is None  # the label column
    # the description is drawn on the frames of the segment, and only there
    assert any("holds the ball" in line for line in note_lines(ann.session.view(20)))
    assert not any("holds the ball" in line for line in note_lines(ann.session.view(30)))
    ann.redraw()
    with_note = ann.canvas.last_image.copy()  # the composite picture on screen
    p.update_action(ball, description="")
    ann.redraw()
    assert np.abs(with_note.astype(int) - ann.canvas.last_image.astype(int))[-20:].sum() > 0  # the band at the bottom
    # edit through the fields and Save
    tool.start_box.value, tool.stop_box.value = 18, 25
    tool.description_text.value = "catches the ball"
    tool.save_button.click()
    seg = p.action(ball)
    assert (seg.start, seg.stop, seg.description, seg.meta.get("edited")) == (18, 25, "catches the ball", True)
    assert "edited" in ann.status
    ann.undo()
    assert (p.action(ball).start, p.action(ball).stop) == (20, 30) and tool.start_box.value == 20
    # delete (the list and the strip follow), undo brings it back
    tool.delete(far)
    assert far not in tool.strip.segments and far not in [v for _, v in tool.choice.options]
    ann.undo()
    assert far in tool.strip.segments and p.action(far).label == "waves at"
    # bad edits are refused with the project's error; nothing changes
    with pytest.raises(AnnotatorError):
        tool.edit(ball, start=35, stop=30)
    with pytest.raises(AnnotatorError, match="editable field"):
        tool.edit(ball, person_id=4)
    assert p.action(ball).start == 20


def test_picking_in_the_list_jumps_too_and_nothing_selected_is_said(ann):
    p = ann.session.project
    aid = p.add_action(ActionSegment(7, 12, "holds", PERSON, BALL))
    tool = ann.tools["actions"]
    ann.refresh()
    with pytest.raises(AnnotatorError, match="no segment is selected"):
        tool.save()
    tool.choice.value = aid
    assert tool.selected == aid and ann.frame == 7


def test_describe_needs_a_captioner_and_stores_its_answers(ann, tmp_path_factory):
    from tests.support.vlm_text import build_tiny_smolvlm

    tool = ann.tools["actions"]
    ann.session.project.add_action(ActionSegment(15, 27, "holds", PERSON, BALL))
    ann.refresh()
    with pytest.raises(AnnotatorError, match="no captioner"):
        tool.describe()
    model = build_tiny_smolvlm(tmp_path_factory.mktemp("smolvlm") / "model")
    tool.captioner_text.value = f"smolvlm:{model}"
    got = tool.describe().result(300)
    (aid,) = got
    assert ann.session.project.action(aid).description == got[aid] and "described 1 segments" in ann.status
