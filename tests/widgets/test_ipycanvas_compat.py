"""The ipycanvas internals the widgets rely on still exist and still behave as the widgets assume.

When an ipycanvas release moves or renames one of them, these tests fail naming the symbol
(update ``annotator_widgets/widgets/_ipycanvas_compat.py``, the only module that uses them).
"""

from __future__ import annotations

import ipycanvas
import numpy as np
import pytest
from ipycanvas.canvas import _CANVAS_MANAGER, COMMANDS

from annotator_widgets.widgets import _ipycanvas_compat as compat
from annotator_widgets.widgets.canvas import drawing


@pytest.mark.parametrize(("where", "attr"), compat.INTERNALS, ids=[f"{w}.{a}" for w, a in compat.INTERNALS])
def test_each_internal_exists_in_the_installed_ipycanvas(where, attr):
    gone = compat.missing()
    assert not [g for g in gone if attr in g or where in g], (
        f"ipycanvas {ipycanvas.__version__} no longer has {where}.{attr}: update widgets/_ipycanvas_compat.py"
    )


def test_a_moved_internal_is_reported_by_name(monkeypatch):
    monkeypatch.delattr(_CANVAS_MANAGER, "_current_canvas")
    monkeypatch.delitem(COMMANDS, "putImageData")
    assert compat.missing() == [
        "ipycanvas.canvas._CANVAS_MANAGER._current_canvas",
        "ipycanvas.canvas.COMMANDS.putImageData",
    ]


@pytest.fixture
def sent(monkeypatch):
    """What the canvas manager would send to the browser: a list of (commands, buffers)."""
    messages: list[tuple[object, list[bytes]]] = []
    monkeypatch.setattr(
        _CANVAS_MANAGER, "_send_custom", lambda command, buffers=(): messages.append((command, list(buffers)))
    )
    return messages


def test_put_encoded_sends_what_put_image_data_sends(sent):
    canvas = ipycanvas.Canvas(width=8, height=6)
    try:
        rgb = np.random.default_rng(0).integers(0, 255, (6, 8, 3), dtype=np.uint8)
        compat.reset_manager()
        canvas.put_image_data(rgb, 2, 1)  # the public path: encodes itself
        public = sent[-1]
        compat.forget_selection(canvas)
        compat.put_encoded(canvas, rgb, compat.encode(rgb, 75), 2, 1)
        assert sent[-1] == public  # same command, same bytes: one encode instead of two
        assert public[0] == [COMMANDS["putImageData"], [2, 1], 1]
        assert bytes(public[1][0])[:2] == b"\xff\xd8"  # JPEG for RGB; PNG for RGBA
        assert compat.encode(np.zeros((2, 2, 4), np.uint8), 75)[:4] == b"\x89PNG"
    finally:
        canvas.close()


def test_forget_selection_makes_the_next_command_select_the_canvas_again(sent):
    canvas = ipycanvas.Canvas(width=4, height=4)
    try:
        compat.reset_manager()
        canvas.fill_rect(0, 0, 1, 1)
        canvas.fill_rect(0, 0, 2, 2)  # the manager believes this canvas is selected: no switch
        switches = [c for c, _ in sent if c[0] == COMMANDS["switchCanvas"]]
        assert len(switches) == 1
        compat.forget_selection(canvas)  # what a reloaded page needs (ipycanvas #322)
        canvas.fill_rect(0, 0, 3, 3)
        assert sent[-2][0][0] == COMMANDS["switchCanvas"]
    finally:
        canvas.close()


def test_a_failed_batch_leaves_the_manager_clean(sent):
    canvas = ipycanvas.Canvas(width=4, height=4)
    try:
        with pytest.raises(ZeroDivisionError), drawing():
            canvas.fill_rect(0, 0, 1, 1)
            1 / 0  # noqa: B018
        assert _CANVAS_MANAGER._caching is False
        assert _CANVAS_MANAGER._commands_cache == [] and _CANVAS_MANAGER._buffers_cache == []
        assert _CANVAS_MANAGER._current_canvas is None
        with drawing():  # the next batch goes out whole, starting with its canvas switch
            canvas.fill_rect(0, 0, 2, 2)
        [(batch, _)] = sent  # the failed batch never went out
        assert [c[0] for c in batch] == [COMMANDS["switchCanvas"], COMMANDS["fillRect"]]
        assert batch[1][1] == [0, 0, 2, 2]
    finally:
        canvas.close()
