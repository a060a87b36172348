"""Browser fixtures: the real services and aggregator on :0, one headless Chromium."""

import os
import socket
import threading
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import ThreadedWSGIServer

from aggregator.app import create_app as create_aggregator
from aggregator.config import load_settings
from data_sources.api import EXTENSION
from data_sources.service import create_app as create_source

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDE = {"width": 1280, "height": 800}
TIMEOUT_MS = 15_000


class StoppableServer(ThreadedWSGIServer):
    """A werkzeug server that also drops its keep-alive connections when stopped."""

    def __init__(self, app):
        super().__init__("127.0.0.1", 0, app)
        self._connections = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._stopped = False

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        return f"http://127.0.0.1:{self.server_port}"

    def get_request(self):
        """Accept a connection and remember it, so stop() can cut it."""
        connection, address = super().get_request()
        with self._lock:
            self._connections.add(connection)
        return connection, address

    def start(self) -> "StoppableServer":
        """Serve in a daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close the listener and every open connection."""
        if self._stopped:
            return
        self._stopped = True
        self.shutdown()
        self.server_close()
        with self._lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the client
            connection.close()
        self._thread.join(timeout=10)


def closed_port_url() -> str:
    """Return a loopback URL nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def start_dashboard(source_urls: dict, output_dir: Path) -> StoppableServer:
    """Serve the real aggregator app (and so the dashboard) against ``source_urls``."""
    overrides = {
        "sources": {slug: {"url": url} for slug, url in source_urls.items()},
        "output_dir": str(output_dir),
        "rate_limit": "100000 per minute",
        "connect_timeout": 1.0,
    }
    settings = load_settings(env={}, overrides=overrides)
    return StoppableServer(create_aggregator(settings=settings)).start()


@pytest.fixture(scope="session")
def browser():
    """One headless Debian Chromium for the session; skip loudly when it is missing."""
    if not CHROMIUM.exists():
        reason = (
            f"DASHBOARD TESTS SKIPPED: no Chromium at {CHROMIUM} (apt install chromium)"
        )
        if os.environ.get("FINSYNC_REQUIRE_BROWSER") == "1":
            pytest.fail(reason.replace("SKIPPED", "FAILED"), pytrace=False)
        pytest.skip(reason)
    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True
    )
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder for screenshots (git-ignored), emptied of old PNGs once per session."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    return ARTIFACTS


@pytest.fixture(scope="session")
def dashboard_url(live_sources, tmp_path_factory) -> str:
    """Base URL of the aggregator serving the dashboard, on the three live sources."""
    server = start_dashboard(live_sources, tmp_path_factory.mktemp("dashboard_out"))
    yield server.url
    server.stop()


@pytest.fixture
def own_balance_sheet(sample_dbs):
    """A balance-sheet service of this test's own, so the test may stop it."""
    app = create_source("balance_sheet", {"DB_PATH": str(sample_dbs["balance_sheet"])})
    server = StoppableServer(app).start()
    yield server
    server.stop()
    app.extensions[EXTENSION].db.close()


@pytest.fixture
def stoppable_dashboard(live_sources, own_balance_sheet, tmp_path):
    """(dashboard URL, balance-sheet server): an aggregator whose source can die."""
    urls = dict(live_sources, balance_sheet=own_balance_sheet.url)
    server = start_dashboard(urls, tmp_path / "out")
    yield server.url, own_balance_sheet
    server.stop()


@pytest.fixture
def dead_dashboard(tmp_path):
    """Dashboard URL of an aggregator whose every source is down."""
    urls = {slug: closed_port_url() for slug in ("pnl", "balance_sheet", "cash_flow")}
    server = start_dashboard(urls, tmp_path / "out")
    yield server.url
    server.stop()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's report on the item, for the failure screenshot."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(browser, artifacts, request):
    """A fresh 1280x800 page; fails the test on any uncaught JavaScript error."""
    context = browser.new_context(viewport=WIDE, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    errors = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        tab.screenshot(
            path=artifacts / f"failed_{request.node.name}.png", full_page=True
        )
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
