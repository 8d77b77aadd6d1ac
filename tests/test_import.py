import subprocess
import sys

HEAVY = ["torch", "sam2", "mediapipe", "transformers", "ipycanvas", "ipywidgets", "supervision", "ray"]


def test_import_is_light():
    code = (
        "import sys, annotator_widgets, annotator_widgets.session, annotator_widgets.project;"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_public_api_lists_only_real_names():
    import annotator_widgets as aw

    for name in aw.__all__:
        assert getattr(aw, name) is not None


def test_the_test_environment_has_every_extra():
    """Backend tests skip when their library is missing; `make test` installs all extras, so none may skip."""
    import importlib

    for module in ["torch", "torchvision", "sam2", "transformers", "mediapipe", "ipywidgets", "ipycanvas", "ipyevents"]:
        importlib.import_module(module)
