import hashlib

import pytest

from annotator_widgets import CheckpointError
from annotator_widgets import checkpoints as ck


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(ck.ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    added = []

    def register(**kw):
        entry = ck.register(ck.Checkpoint(**kw))
        added.append(entry.name)
        return entry

    yield register
    for name in added:
        ck.REGISTRY.pop(name, None)


def test_registry_has_the_sam2_family():
    names = [n for n, c in ck.REGISTRY.items() if c.family == "sam2"]
    assert names == [f"sam2.1_hiera_{s}" for s in ("tiny", "small", "base_plus", "large")]
    assert ck.REGISTRY["sam2.1_hiera_tiny"].config == "configs/sam2.1/sam2.1_hiera_t.yaml"


def test_fetch_downloads_records_sha_and_verifies(cache, tmp_path):
    src = tmp_path / "weights.bin"
    src.write_bytes(b"w" * 2048)
    cache(name="toy", filename="toy.bin", urls=(src.as_uri(),))
    path = ck.fetch("toy", progress=False)
    assert path == tmp_path / "cache" / "toy.bin" and path.read_bytes() == src.read_bytes()
    sidecar = (tmp_path / "cache" / "toy.bin.sha256").read_text()
    assert sidecar.startswith(hashlib.sha256(src.read_bytes()).hexdigest())
    assert ck.find_local("toy") == path and ck.fetch("toy") == path  # found, not downloaded again
    path.write_bytes(b"tampered" * 256)
    with pytest.raises(CheckpointError, match="wrong sha256"):
        ck.verify("toy")


def test_pinned_sha_rejects_a_bad_download(cache, tmp_path):
    src = tmp_path / "weights.bin"
    src.write_bytes(b"abc")
    cache(name="pinned", filename="pinned.bin", urls=(src.as_uri(),), sha256="0" * 64)
    with pytest.raises(CheckpointError, match="cannot fetch") as info:
        ck.fetch("pinned", progress=False)
    assert "wrong sha256" in str(info.value)
    assert not (tmp_path / "cache" / "pinned.bin").exists()


def test_offline_error_says_what_to_download_and_where(cache, tmp_path):
    cache(name="remote", filename="remote.pt", urls=("http://127.0.0.1:9/remote.pt",))
    with pytest.raises(CheckpointError) as info:
        ck.fetch("remote", progress=False)
    msg = str(info.value)
    assert "http://127.0.0.1:9/remote.pt" in msg and str(tmp_path / "cache" / "remote.pt") in msg


def test_builder_is_the_offline_fallback(cache, tmp_path):
    cache(name="built", filename="built.bin", urls=("http://127.0.0.1:9/x",), builder="tests.test_checkpoints:_build")
    assert ck.fetch("built", progress=False).read_bytes() == b"built offline"


def _build(target):
    target.write_bytes(b"built offline")


def test_too_small_files_and_unknown_names(cache, tmp_path):
    cache(name="big", filename="big.pt", approx_mb=10)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "big.pt").write_bytes(b"<html>error page</html>")
    assert ck.find_local("big") == tmp_path / "checkpoints" / "big.pt"  # ./checkpoints is searched
    with pytest.raises(CheckpointError, match="too small"):
        ck.verify("big")
    with pytest.raises(CheckpointError, match="unknown checkpoint"):
        ck.fetch("sam3_giant")


def test_cli_list_and_path(cache, capsys, tmp_path):
    assert ck._main(["list"]) == 0
    assert "sam2.1_hiera_tiny" in capsys.readouterr().out
    assert ck._main(["path", "sam2.1_hiera_large"]) == 1
    assert "not on disk" in capsys.readouterr().err
