"""Browser fixtures: the real services and aggregator on :0, one headless Chromium."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from aggregator.app import create_app as create_aggregator
from aggregator.config import load_settings
from data_sources.service import create_app as create_source
from data_sources.source import EXTENSION

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


def dashboard_app(source_urls: dict, output_dir: Path):
    """Return the real aggregator app (and so the dashboard) on ``source_urls``."""
    overrides = {
        "sources": {slug: {"url": url} for slug, url in source_urls.items()},
        "output_dir": str(output_dir),
        "rate_limit": "100000 per minute",
        "connect_timeout": 1.0,
    }
    return create_aggregator(settings=load_settings(env={}, overrides=overrides))


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
def dashboard_url(live_sources, start_server, tmp_path_factory) -> str:
    """Base URL of the aggregator serving the dashboard, on the three live sources."""
    output_dir = tmp_path_factory.mktemp("dashboard_out")
    server = start_server(dashboard_app(live_sources, output_dir))
    yield server.url
    server.stop()


@pytest.fixture
def own_balance_sheet(sample_dbs, start_server):
    """A balance-sheet LiveServer of this test's own, so the test may stop it."""
    app = create_source("balance_sheet", {"DB_PATH": str(sample_dbs["balance_sheet"])})
    server = start_server(app)
    yield server
    server.stop()
    app.extensions[EXTENSION].db.close()


@pytest.fixture
def stoppable_dashboard(live_sources, own_balance_sheet, serve_wsgi, tmp_path):
    """(dashboard URL, balance-sheet server): an aggregator whose source can die."""
    urls = dict(live_sources, balance_sheet=own_balance_sheet.url)
    url, _ = serve_wsgi(dashboard_app(urls, tmp_path / "out"))
    yield url, own_balance_sheet


@pytest.fixture
def dead_dashboard(serve_wsgi, closed_url, tmp_path):
    """Dashboard URL of an aggregator whose every source is down."""
    urls = {slug: closed_url for slug in ("pnl", "balance_sheet", "cash_flow")}
    url, _ = serve_wsgi(dashboard_app(urls, tmp_path / "out"))
    yield url


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
