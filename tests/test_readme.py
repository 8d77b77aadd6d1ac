"""The README stays true: its set-up commands exist and its shortcut table matches the widget's."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_setup_commands_exist_in_the_makefile():
    makefile = (ROOT / "Makefile").read_text()
    for target in re.findall(r"^make ([\w-]+)", README, flags=re.MULTILINE) + re.findall(r"`make ([\w-]+)`", README):
        assert re.search(rf"^{re.escape(target)}:", makefile, flags=re.MULTILINE), f"make {target} is not a target"
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_shortcut_table_matches_the_widget():
    from annotator_widgets.widgets.shortcuts import MOUSE_HELP, SHORTCUTS

    for s in SHORTCUTS:
        row = next((line for line in README.splitlines() if line.startswith(f"| {s.help} |")), None)
        assert row is not None, f"README lacks the shortcut row for {s.help!r}"
        for key in s.keys:
            assert f"`{'Space' if key == ' ' else key}`" in row, (s.help, key)
    for gesture, meaning in MOUSE_HELP:
        assert f"| {meaning} | {gesture} |" in README


def test_sam2_model_names_in_the_readme_are_registered():
    from annotator_widgets.checkpoints import REGISTRY

    known = {name for name, c in REGISTRY.items() if c.family == "sam2"}
    used = re.findall(r"\bsam2:([\w.+-]+)", README)
    assert used, "the README shows no sam2:<model> name"
    for name in used:
        assert name in known, f"sam2:{name} in the README is not a registered SAM2 model ({sorted(known)})"


def test_readme_opens_videos_in_the_widget_with_a_project_file():
    calls = re.findall(r"from_video\(([^)]*)\)", README)
    assert calls, "the README shows no VideoAnnotator.from_video call"
    for args in calls:  # without a project the work (and the tools' default outputs) sits in a temp folder
        positional = [a for a in args.split(",") if "=" not in a]
        assert len(positional) >= 2 or "project=" in args, f"from_video({args}) keeps its project in a temp folder"


def test_every_subcommand_is_shown_in_the_readme():
    import argparse

    from annotator_widgets.cli import _parser

    (sub,) = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    for name in sub.choices:
        assert f"annotator-widgets {name} " in README, f"the README never shows `annotator-widgets {name}`"
