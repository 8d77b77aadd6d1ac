"""The loader's hub probe: where the hub is not reachable a hub id reads the local cache only (a clear error at
once, not huggingface_hub's ~25 s of retries); where it is, or a proxy decides, the online path is unchanged."""

from __future__ import annotations

import logging
import socket

import pytest
import transformers
from huggingface_hub import constants

from annotator_widgets.backends import _hf
from annotator_widgets.errors import CheckpointError

OWL = {"classes": {"owlv2": "Owlv2ForObjectDetection"}, "family": "OWLv2", "example": "google/owlv2-base-patch16"}


@pytest.fixture
def endpoint(monkeypatch):
    """Point the hub at a local port: ``set(open=True)`` one that listens, else one that is closed."""
    monkeypatch.setattr(_hf, "_probed", {})
    for name in _hf._PROXIES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    servers = []

    def point(open: bool) -> str:
        server = socket.create_server(("127.0.0.1", 0))
        port = server.getsockname()[1]
        if open:
            servers.append(server)
        else:
            server.close()
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{port}")
        return constants.ENDPOINT

    yield point
    for s in servers:
        s.close()


@pytest.fixture
def config_calls(monkeypatch):
    """What the loader asks transformers for the config; raises instead of touching any network."""
    calls = []

    def spy(source, **kwargs):
        calls.append((source, kwargs))
        raise OSError("stopped by the test before any download")

    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", spy)
    return calls


def test_probe_answers_and_is_remembered(endpoint, monkeypatch):
    endpoint(open=False)
    assert _hf.hub_reachable(timeout=1) is False
    endpoint(open=True)
    assert _hf.hub_reachable(timeout=1) is True
    assert _hf.hub_reachable(timeout=1) is True and len(_hf._probed) == 2  # one entry per host and port
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    assert _hf.hub_reachable() is None  # the proxy decides: no probe


def test_unreachable_hub_reads_the_cache_only_and_says_so(endpoint, config_calls, caplog):
    endpoint(open=False)
    with caplog.at_level(logging.WARNING, logger="huggingface_hub"), pytest.raises(CheckpointError) as info:
        _hf.load_pretrained("nobody-here/no-such-owl", **OWL)
    assert config_calls == [("nobody-here/no-such-owl", {"local_files_only": True})]
    assert "not reachable" in (info.value.hint or "") and "huggingface-cli download" in (info.value.hint or "")
    assert not [r for r in caplog.records if "Retrying" in r.getMessage()]


@pytest.mark.parametrize("case", ["reachable", "proxy", "offline env"])
def test_online_loads_are_unchanged_where_the_probe_cannot_say_no(case, endpoint, config_calls, monkeypatch):
    endpoint(open=case == "reachable")
    if case == "proxy":
        monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    if case == "offline env":  # transformers' own rule applies; the probe is not run
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CheckpointError) as info:
        _hf.load_pretrained("nobody-here/no-such-owl", **OWL)
    assert config_calls == [("nobody-here/no-such-owl", {})]  # transformers' default: the hub, then the cache
    assert "not reachable" not in (info.value.hint or "")
    assert bool(_hf._probed) == (case == "reachable")  # probed only where nothing else decides


def test_a_librarys_error_in_a_hint_is_its_first_sentence_never_cut_inside_an_address():
    from annotator_widgets.backends._hf import _cause

    offline = OSError(
        "We couldn't connect to 'https://huggingface.co' to load the files, and couldn't find them in the cached "
        "files. Check your internet connection or see how to run the library in offline mode at "
        "'https://huggingface.co/docs/transformers/installation#offline-mode'."
    )
    assert _cause(offline) == (
        "We couldn't connect to 'https://huggingface.co' to load the files, and couldn't find them in the cached files."
    )
    long = ValueError("word " * 100 + "'https://example.org/a/very/long/address'")
    cut = _cause(long, limit=60)
    assert cut.endswith(" …") and len(cut) <= 62 and "https" not in cut
    assert _cause(OSError("")) == "OSError."
