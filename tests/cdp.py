"""A headless Chromium driven over its DevTools protocol, for pages that change
while one looks at them (the ApplicationMaster's live page).

Only what the tests need: open one page, evaluate JavaScript in it, emulate a
narrow screen, take a screenshot.  The WebSocket client is tornado's (a
dependency of distributed, in the test extras).
"""
import asyncio
import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import requests
from tornado.websocket import websocket_connect

from helpers import poll

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


async def _connect(url):
    return await websocket_connect(url)     # in the loop that will read it


class Browser:
    """One headless Chromium showing ``url``; ``close()`` ends it (a context manager).

    ``args`` are more command-line switches, e.g. ``--auth-server-allowlist=localhost``.

    Examples
    --------
    ::

        with Browser("http://localhost:8088/proxy/application_1_0001/") as b:
            b.evaluate("document.title")
    """

    def __init__(self, url, *args, timeout=30):
        self._profile = tempfile.TemporaryDirectory(prefix="knit-cdp-")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
             f"--user-data-dir={self._profile.name}", "--window-size=1200,900", *args, url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # Its own process group: Debian's chromium is a wrapper script,
            # and close() ends the browser it starts too.
            start_new_session=True)
        self._conn = self._loop = None
        try:
            self._attach(timeout)
        except BaseException:
            self.close()
            raise

    def _attach(self, timeout):
        port_file = Path(self._profile.name) / "DevToolsActivePort"
        poll(lambda: self.proc.poll() is not None
             or (port_file.exists() and port_file.read_text().strip()), timeout, 0.1)
        if self.proc.poll() is not None:
            raise AssertionError(f"Chromium exited {self.proc.returncode} before it listened")
        port = port_file.read_text().split()[0]
        pages = requests.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        ws = next(p["webSocketDebuggerUrl"] for p in pages if p["type"] == "page")
        # One session for the whole test: overrides such as the screen size
        # last as long as the session that set them.
        self._loop = asyncio.new_event_loop()
        self._conn = self._loop.run_until_complete(_connect(ws))
        self._id = 0

    def call(self, method, **params):
        """One DevTools command; its result."""
        self._id += 1
        return self._loop.run_until_complete(self._call(self._id, method, params))

    async def _call(self, msg_id, method, params):
        self._conn.write_message(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = await asyncio.wait_for(self._conn.read_message(), 30)
            if msg is None:
                raise AssertionError(f"Chromium closed the DevTools connection during {method}")
            reply = json.loads(msg)
            if reply.get("id") == msg_id:      # not an event
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return reply["result"]

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page (JSON-able)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screen(self, width, height, mobile=False):
        """Emulate a screen of ``width`` x ``height`` CSS pixels."""
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=mobile)

    def screenshot(self, path):
        """Write the visible page as a PNG; return its size in bytes."""
        data = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        Path(path).write_bytes(data)
        return len(data)

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._loop is not None:
            self._loop.close()
            self._loop = None
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)     # the group started above
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._profile.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
