"""Headless Chromium driven over the DevTools protocol, for tests that look at pages as people do.

``--window-size`` cannot make a phone: headless Chromium keeps its window at least 500 px wide.
So the page is opened in a tab whose viewport the DevTools protocol sets
(``Emulation.setDeviceMetricsOverride``, ``mobile`` for a phone, which also honours the page's
viewport meta tag), spoken over ``--remote-debugging-pipe`` (NUL-terminated JSON on fds 3 and 4),
which needs no WebSocket library and no port.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

WIDTHS = (1400, 390)
"""A laptop's and a phone's width in CSS px."""


class Browser:
    """One headless Chromium; :meth:`open` loads a page at a viewport size, then evaluate and screenshot."""

    def __init__(self, profile: Path, timeout_s: float = 30.0) -> None:
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        assert chromium, "chromium is missing: run `make install` (scripts/install-system-deps.sh installs it)"
        self.timeout_s = timeout_s
        to_chrome, self._out = os.pipe()
        self._in, from_chrome = os.pipe()

        def wire() -> None:  # in the child: Chromium reads commands on fd 3 and answers on fd 4
            os.dup2(to_chrome, 3)
            os.dup2(from_chrome, 4)

        self.process = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=wire, pass_fds=(3, 4),
        )
        os.close(to_chrome)
        os.close(from_chrome)
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        self._next = 0
        self.session = ""

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.call("Browser.close", session=None)
            except (OSError, AssertionError, TimeoutError):
                self.process.kill()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process.stderr:
            self.process.stderr.close()
        os.close(self._out)
        os.close(self._in)

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._in], [], [], max(0.0, left))
            if not ready:
                raise TimeoutError("Chromium did not answer over the DevTools pipe")
            chunk = os.read(self._in, 1 << 20)
            assert chunk, f"Chromium closed the DevTools pipe (exit {self.process.poll()})"
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(message))

    def call(self, method: str, params: dict[str, Any] | None = None, *, session: str | None = "") -> Any:
        """Send one command (to the open tab's session unless ``session=None``) and return its result."""
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        target = self.session if session == "" else session
        if target:
            message["sessionId"] = target
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout_s
        while True:
            answer = self._receive(deadline)
            if answer.get("id") == self._next:
                assert "error" not in answer, f"{method}: {answer['error']}"
                return answer.get("result", {})
            self._events.append(answer)

    def wait_for(self, event: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout_s
        while True:
            for i, seen in enumerate(self._events):
                if seen.get("method") == event and seen.get("sessionId") == self.session:
                    return dict(self._events.pop(i))
            self._events.append(self._receive(deadline))

    def open(self, url: str, width: int, height: int, *, mobile: bool = False) -> None:
        """Load ``url`` in a fresh tab of viewport ``width`` x ``height`` CSS px (device scale 1)."""
        if self.session:
            self.call("Target.closeTarget", {"targetId": self._target}, session=None)
        self._target = self.call("Target.createTarget", {"url": "about:blank"}, session=None)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": self._target, "flatten": True},
                                 session=None)["sessionId"]
        self._events.clear()
        self.call("Page.enable")
        self.resize(width, height, mobile=mobile)
        self.call("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")

    def resize(self, width: int, height: int, *, mobile: bool = False) -> None:
        self._mobile = mobile
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (awaited if it is a promise)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def screenshot(self, path: Path) -> None:
        """The viewport as PNG (resize first to take the whole page)."""
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))


# What the browser laid out: the page's width and each chart box, from the DOM.
MEASURE = """(() => {
  const root = document.documentElement;
  const charts = [...document.querySelectorAll("[data-chart]")].map((f) => {
    const box = (f.querySelector("img") || f.querySelector(".nodata")).getBoundingClientRect();
    const img = f.querySelector("img");
    return {index: +f.dataset.chart, empty: f.dataset.empty === "true", x: box.left, y: box.top + scrollY,
            w: box.width, h: box.height, right: f.getBoundingClientRect().right,
            src: img ? img.currentSrc.split("/").pop() : null, loaded: img ? img.naturalWidth > 0 : null,
            text: f.innerText};
  });
  return {scrollWidth: root.scrollWidth, innerWidth: innerWidth, height: root.scrollHeight, charts};
})()"""


def _coloured(image: Any, box: tuple[int, int, int, int]) -> int:
    """Pixels in ``box`` that are clearly coloured (bars and lines, not text or grid)."""
    data = image.crop(box).tobytes()
    return sum(1 for i in range(0, len(data), 3)
               if max(data[i:i + 3]) - min(data[i:i + 3]) > 60 and min(data[i:i + 3]) < 235)


def look_at_charts(index: Path, tmp: Path, name: str) -> list[dict[str, Any]]:
    """Open a page of ``[data-chart]`` figures at each of :data:`WIDTHS` (a phone's as a phone) and check it.

    No horizontal overflow; every chart either a loaded picture (the narrow one on the phone) with
    coloured ink where the browser shows it, or a box saying "No data for this period". A
    screenshot of the whole page per width goes to ``$GREENWIRE_ARTIFACTS/report/NAME-WIDTH.png``
    (else into ``tmp``), to be looked at. Returns the layouts (:data:`MEASURE`) per width.
    """
    from PIL import Image

    artifacts = Path(os.environ.get("GREENWIRE_ARTIFACTS") or tmp) / "report"
    artifacts.mkdir(parents=True, exist_ok=True)
    seen = []
    with Browser(tmp / "chromium-profile") as browser:
        for width in WIDTHS:
            phone = width < 640
            browser.open(index.as_uri(), width, 2400 if phone else 2000, mobile=phone)
            layout = browser.evaluate(MEASURE)
            assert layout["innerWidth"] == width, layout["innerWidth"]
            assert layout["scrollWidth"] <= width, f"{name} at {width} px: the page is {layout['scrollWidth']} px wide"
            # The whole page in one picture: the viewport as tall as the page (nothing here depends on height).
            browser.resize(width, max(int(layout["height"]), 2400 if phone else 2000), mobile=phone)
            shot = artifacts / f"{name}-{width}.png"
            browser.screenshot(shot)
            seen.append((width, layout, Image.open(shot).convert("RGB")))
    for width, layout, image in seen:
        for chart in layout["charts"]:
            where = f"{name} at {width} px, chart {chart['index']} ({chart['text'].splitlines()[0]})"
            assert chart["right"] <= width + 0.5, f"{where}: sticks out to {chart['right']} px"
            if chart["empty"]:
                assert "No data for this period" in chart["text"], where
                assert chart["h"] > 80, f"{where}: the no-data box is {chart['h']} px high"
                continue
            assert chart["loaded"], f"{where}: picture not loaded"
            assert chart["src"].endswith("-narrow.png") == (width < 640), f"{where}: shows {chart['src']}"
            assert chart["w"] <= width - 20 and chart["w"] > 0.8 * min(width, 700) - 40, f"{where}: {chart['w']} px"
            box = (int(chart["x"]), int(chart["y"]), int(chart["x"] + chart["w"]), int(chart["y"] + chart["h"]))
            assert _coloured(image, box) > 300, f"{where}: no coloured lines or bars in the browser"
    return [layout for _, layout, _ in seen]
