"""The report in a real browser: every page opens in headless Chromium with no console error, no broken image and
no request other than file:// and data: (the report must open from disk, offline).

Chromium is driven over its DevTools protocol (tornado's websocket client). Screenshots of every page go to the
test's temporary folder, and the cohort page and two patient pages also to ``/tmp/report-screens/``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "unit"))

from runFolderFixture import runFolder  # noqa: E402,F401  (the session fixture)

CHROMIUM = shutil.which("chromium")
SCREENS = pathlib.Path("/tmp/report-screens")
WIDTH = 1300

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="needs headless Chromium: sudo apt-get install -y chromium"),
]


class DevTools:
    """A minimal DevTools-protocol client: commands with replies, events collected per session."""

    def __init__(self, connection) -> None:
        self.connection = connection
        self.nextId = 0
        self.events: list[dict] = []

    async def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self.nextId += 1
        message: dict = {"id": self.nextId, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        await self.connection.write_message(json.dumps(message))
        while True:
            reply = await asyncio.wait_for(self.connection.read_message(), 60)
            if reply is None:
                raise RuntimeError("Chromium closed the DevTools connection")
            data = json.loads(reply)
            if data.get("id") == self.nextId:
                if "error" in data:
                    raise RuntimeError(f"{method}: {data['error']}")
                return data.get("result", {})
            self.events.append(data)

    async def waitFor(self, method: str, timeout: float = 60) -> None:
        if any(event.get("method") == method for event in self.events):
            return
        async with asyncio.timeout(timeout):
            while True:
                reply = await self.connection.read_message()
                if reply is None:
                    raise RuntimeError("Chromium closed the DevTools connection")
                self.events.append(json.loads(reply))
                if self.events[-1].get("method") == method:
                    return


async def inspectPage(url: str, websocketUrl: str, screenshot: pathlib.Path) -> dict:
    """Open ``url`` in a new tab; return its console errors, non-local requests and broken images, and save a
    full-page screenshot at ``WIDTH`` px."""
    from tornado.websocket import websocket_connect

    connection = await websocket_connect(websocketUrl, max_message_size=512 * 1024 * 1024)
    tools = DevTools(connection)
    target = await tools.send("Target.createTarget", {"url": "about:blank"})
    session = (await tools.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}))[
        "sessionId"
    ]
    for domain in ("Page", "Runtime", "Log", "Network"):
        await tools.send(f"{domain}.enable", session=session)
    await tools.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        session,
    )
    tools.events.clear()
    await tools.send("Page.navigate", {"url": url}, session)
    await tools.waitFor("Page.loadEventFired")
    broken = await tools.send(
        "Runtime.evaluate",
        {
            "expression": "JSON.stringify(Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
            ".map(i => i.alt))",
            "returnByValue": True,
        },
        session,
    )
    images = await tools.send(
        "Runtime.evaluate", {"expression": "document.images.length", "returnByValue": True}, session
    )
    metrics = await tools.send("Page.getLayoutMetrics", session=session)
    height = int(metrics["cssContentSize"]["height"])
    shot = await tools.send(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1},
        },
        session,
    )
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    await tools.send("Target.closeTarget", {"targetId": target["targetId"]})
    connection.close()
    errors, requests = [], []
    for event in tools.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(str(params.get("args")))
        elif method == "Runtime.exceptionThrown":
            errors.append(str(params.get("exceptionDetails")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            errors.append(params["entry"].get("text", ""))
        elif method == "Network.requestWillBeSent":
            requested = params.get("request", {}).get("url", "")
            if not requested.startswith(("file://", "data:")):
                requests.append(requested)
    return {
        "errors": errors,
        "requests": requests,
        "broken": json.loads(broken["result"]["value"]),
        "images": images["result"]["value"],
    }


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium with remote debugging on a free port; yields its browser websocket URL."""
    profile = tempfile.mkdtemp(prefix="report-chromium-")
    process = subprocess.Popen(
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "about:blank",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        url = None
        for line in process.stderr:
            match = re.search(r"DevTools listening on (ws://\S+)", line)
            if match:
                url = match.group(1)
                break
        assert url, "Chromium did not start its DevTools server"
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def report(runFolder, tmp_path_factory) -> pathlib.Path:  # noqa: F811
    from runFolderFixture import copyRunFolder

    from VirtualBiopsy.cohort.report import buildReport

    return buildReport(copyRunFolder(runFolder, tmp_path_factory.mktemp("browser") / "run")).parent


def test_every_page_opens_offline_without_errors(report, browser, tmp_path):
    pages = [report / "index.html", *sorted((report / "patients").glob("*.html"))]
    assert len(pages) > 1
    SCREENS.mkdir(parents=True, exist_ok=True)
    problems = {}
    for index, page in enumerate(pages):
        screenshot = tmp_path / f"{page.stem}.png"
        found = asyncio.run(inspectPage(page.as_uri(), browser, screenshot))
        if page.name == "index.html":
            assert found["images"] > 0, "the cohort page shows no image"
        if index < 3 or page == pages[-1]:
            shutil.copy(screenshot, SCREENS / f"{page.parent.name}-{page.stem}.png")
        if found["errors"] or found["requests"] or found["broken"]:
            problems[page.name] = {key: found[key] for key in ("errors", "requests", "broken")}
    assert not problems, problems
