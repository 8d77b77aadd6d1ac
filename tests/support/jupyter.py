"""Drive JupyterLab in a real browser: start a server, open a notebook with Playwright, run it, talk to its kernel.

Shared by the browser tests (``tests/widgets``) and ``benchmarks/bench_widget.py``.
Nothing here touches the network: the server binds 127.0.0.1 on a free port, the
browser is Debian's chromium (``playwright install`` is not needed), and JupyterLab's
news and update checks are switched off.

Example (not run here: it needs chromium and takes ~15 s)::

    from playwright.sync_api import sync_playwright
    from tests.support.jupyter import JupyterLab, NotebookPage, launch_browser, write_notebook

    with JupyterLab(tmp_dir) as lab, sync_playwright() as pw:
        write_notebook(tmp_dir / "demo.ipynb", ["x = 21 * 2", "x"])
        browser = launch_browser(pw)
        nb = NotebookPage(browser.new_page(), lab, "demo.ipynb").open()
        nb.run_all()
        assert nb.kernel("print(x)") == "42"
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from annotator_widgets.errors import AnnotatorError

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "JupyterLab",
    "NotebookError",
    "NotebookPage",
    "free_port",
    "launch_browser",
    "write_notebook",
]

log = logging.getLogger(__name__)

CHROMIUM = os.environ.get("ANNOTATOR_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# user settings that keep tests quiet and deterministic
_SETTINGS: dict[str, dict[str, Any]] = {
    # render every cell (windowed rendering would leave off-screen widgets undrawn)
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    # no news or update checks (no network here, and no popups over the notebook)
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class NotebookError(AnnotatorError):
    """A notebook cell or kernel request failed, or the page did not get ready in time."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_notebook(path: str | os.PathLike[str], cells: list[str], *, name: str = "python3") -> Path:
    """Write a notebook of code cells (no outputs) for the ``python3`` kernel."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": name, "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(p))
    return p


def launch_browser(playwright: Any, *, headless: bool = True) -> Any:
    """Launch Debian's chromium through Playwright with flags that work in containers."""
    if not Path(CHROMIUM).exists():
        raise NotebookError(
            "chromium not found", given=CHROMIUM, hint="apt-get install chromium, or set ANNOTATOR_CHROMIUM"
        )
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=headless, args=CHROMIUM_ARGS)


class JupyterLab:
    """A JupyterLab server for tests: private config, settings and runtime folders, a token, a free port.

    Args:
        root: The folder notebooks are served from (created if missing).
        port: The port (default: a free one).
        startup_timeout: Seconds to wait for the server to answer.
        env: Extra environment variables for the server and its kernels.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        port: int | None = None,
        startup_timeout: float = 90.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.root = Path(root)
        self.port = port or free_port()
        self.token = secrets.token_hex(16)
        self.startup_timeout = startup_timeout
        self.extra_env = dict(env or {})
        self.home = self.root / ".jupyter-test"
        self.log_path = self.home / "server.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "lab") -> str:
        """A URL on the server with the token."""
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}/{path.lstrip('/')}{sep}token={self.token}"

    def _write_settings(self) -> dict[str, str]:
        dirs = {k: self.home / k for k in ("config", "data", "runtime", "settings", "workspaces", "ipython")}
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        for rel, content in _SETTINGS.items():
            f = dirs["settings"] / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(json.dumps(content))
        return {
            "JUPYTER_CONFIG_DIR": str(dirs["config"]),
            "JUPYTER_DATA_DIR": str(dirs["data"]),
            "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
            "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
            "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
            "IPYTHONDIR": str(dirs["ipython"]),
        }

    def start(self) -> JupyterLab:
        """Start the server and wait until it answers; returns self."""
        self.root.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self._write_settings(), **self.extra_env}
        env.setdefault("OMP_NUM_THREADS", "1")
        # kernels import the test helpers (tests.support) from the repository root
        repo = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (repo, env.get("PYTHONPATH", "")) if p)
        cmd = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser", "--allow-root",
            "--ip=127.0.0.1", f"--port={self.port}", "--port-retries=0",
            f"--ServerApp.root_dir={self.root}",
            f"--IdentityProvider.token={self.token}",
            "--ServerApp.password=",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=",
        ]  # fmt: skip
        log_file = self.log_path.open("wb")
        self._proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        log_file.close()
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise NotebookError("JupyterLab exited during start-up", given=self.log_tail())
            try:
                with urllib.request.urlopen(self.url("api/status"), timeout=2) as r:
                    if r.status == 200:
                        log.info("JupyterLab ready at %s", self.base_url)
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        self.stop()
        raise NotebookError("JupyterLab did not answer in time", given=self.log_tail(), hint="see the server log")

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server's log."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server (and with it its kernels)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def cleanup(self) -> None:
        """Stop, then remove the private config folders."""
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> JupyterLab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_JS_FIND_PANEL = """
(path) => {
  const app = window.jupyterapp;
  if (!app) return false;
  for (const w of app.shell.widgets('main')) {
    if (w.context && w.context.path === path && w.sessionContext) {
      const k = w.sessionContext.session && w.sessionContext.session.kernel;
      if (k && k.connectionStatus === 'connected' && k.status === 'idle' && w.content.widgets.length) {
        window.__awPanel = w;
        return true;
      }
    }
  }
  return false;
}
"""

_JS_RUN_ALL = """
async () => {
  const app = window.jupyterapp, panel = window.__awPanel;
  app.shell.activateById(panel.id);
  await app.commands.execute('notebook:run-all-cells');
  return true;
}
"""

_JS_RUN_STATE = """
() => {
  const panel = window.__awPanel;
  const k = panel.sessionContext.session.kernel;
  let pending = 0, errors = [];
  for (const cell of panel.content.widgets) {
    if (cell.model.type !== 'code') continue;
    if (cell.model.executionCount === null || cell.promptNode && cell.promptNode.textContent.includes('*')) pending++;
    for (const out of cell.model.outputs.toJSON()) {
      if (out.output_type === 'error') errors.push(out.ename + ': ' + out.evalue + '\\n' + out.traceback.join('\\n'));
    }
  }
  return {pending, errors, status: k ? k.status : 'dead'};
}
"""

_JS_EXECUTE = """
async ([code, timeoutMs]) => {
  const kernel = window.__awPanel.sessionContext.session.kernel;
  const future = kernel.requestExecute({code, silent: false, store_history: false, stop_on_error: true}, true);
  let out = '', err = null;
  future.onIOPub = (msg) => {
    const t = msg.header.msg_type;
    if (t === 'stream') out += msg.content.text;
    else if (t === 'execute_result') out += msg.content.data['text/plain'];
    else if (t === 'error') {
      err = msg.content.ename + ': ' + msg.content.evalue + '\\n' + msg.content.traceback.join('\\n');
    }
  };
  const timeout = new Promise(
    (_, reject) => setTimeout(() => reject(new Error('kernel request timed out')), timeoutMs));
  await Promise.race([future.done, timeout]);
  return {out, err};
}
"""


class NotebookPage:
    """One notebook open in a Playwright page: run it and evaluate code in its kernel.

    Args:
        page: A Playwright ``Page``.
        lab: The server.
        path: The notebook's path relative to the server's root.
    """

    def __init__(self, page: Any, lab: JupyterLab, path: str) -> None:
        self.page = page
        self.lab = lab
        self.path = path

    def open(self, timeout: float = 60.0) -> NotebookPage:
        """Load the notebook and wait until its kernel is idle; returns self."""
        # ?reset: a fresh workspace, so notebooks opened by earlier pages are not restored beside this one
        self.page.goto(self.lab.url(f"lab/tree/{self.path}?reset"), wait_until="domcontentloaded")
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until the notebook panel is shown and its kernel connected and idle."""
        try:
            self.page.wait_for_function(_JS_FIND_PANEL, arg=self.path, timeout=timeout * 1000, polling=200)
        except Exception as exc:
            raise NotebookError(
                "the notebook did not open with an idle kernel", given=self.path, hint=self.lab.log_tail(1500)
            ) from exc

    def run_all(self, timeout: float = 120.0) -> None:
        """Run every cell and wait for the last one; raises :class:`NotebookError` with a cell's traceback."""
        self.page.evaluate(_JS_RUN_ALL)
        deadline = time.monotonic() + timeout
        state: dict[str, Any] = {}
        time.sleep(0.3)
        while time.monotonic() < deadline:
            state = self.page.evaluate(_JS_RUN_STATE)
            if state["errors"]:
                raise NotebookError("a notebook cell failed", given=_ANSI.sub("", state["errors"][0])[-3000:])
            if state["pending"] == 0 and state["status"] == "idle":
                return
            time.sleep(0.2)
        raise NotebookError("the notebook did not finish running in time", given=state)

    def kernel(self, code: str, timeout: float = 60.0) -> str:
        """Execute ``code`` in the notebook's kernel; returns what it printed (stripped).

        Raises:
            NotebookError: The code raised (the message holds the traceback).
        """
        res = self.page.evaluate(_JS_EXECUTE, [code, int(timeout * 1000)])
        if res["err"]:
            raise NotebookError("kernel code failed", given=_ANSI.sub("", res["err"])[-3000:])
        return str(res["out"]).strip()

    def kernel_json(self, expression: str, timeout: float = 60.0) -> Any:
        """Evaluate a Python expression in the kernel and return it through JSON."""
        out = self.kernel(f"import json as _json\nprint(_json.dumps({expression}))", timeout)
        return json.loads(out.splitlines()[-1])

    def wait_kernel(self, expression: str, timeout: float = 30.0, interval: float = 0.1) -> Any:
        """Poll a Python expression in the kernel until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        value: Any = None
        while time.monotonic() < deadline:
            value = self.kernel_json(expression)
            if value:
                return value
            time.sleep(interval)
        raise NotebookError("condition not met in time", given=f"{expression} -> {value!r}")

    def save(self) -> None:
        """Save the notebook (with its widget views, so that a reload shows them again)."""
        self.page.evaluate("async () => { await window.__awPanel.context.save(); }")

    def reload(self, timeout: float = 60.0) -> None:
        """Reload the page (the kernel and its widgets live on) and wait until the notebook is back."""
        self.page.reload(wait_until="domcontentloaded")
        self.wait_ready(timeout)

    def screenshot(self, path: str | os.PathLike[str], selector: str | None = None) -> Path:
        """Save a PNG of the page or of one element."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        if selector:
            self.page.locator(selector).first.screenshot(path=str(p))
        else:
            self.page.screenshot(path=str(p), full_page=True)
        return p
