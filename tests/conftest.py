"""Shared fixtures: SQLite files loaded by data_sources.load, real services on :0."""

import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from data_sources.source import EXTENSION
from data_sources.load import load_file
from data_sources.service import create_app
from data_sources.statements import STATEMENTS

TEST_DATA = Path(__file__).parent / "data"


def _load_all(folder: Path, source_for) -> dict:
    paths = {}
    for slug, spec in STATEMENTS.items():
        paths[slug] = folder / f"{slug}.db"
        load_file(spec, source_for(spec), paths[slug])
    return paths


@pytest.fixture(scope="session")
def sample_dbs(tmp_path_factory) -> dict:
    """Slug -> path of a SQLite DB loaded from the bundled sample.json (read-only!)."""
    folder = tmp_path_factory.mktemp("sample_dbs")
    return _load_all(folder, lambda spec: spec.sample_path)


@pytest.fixture(scope="session")
def tiny_dbs(tmp_path_factory) -> dict:
    """Slug -> path of a SQLite DB loaded from tests/data/<slug>.json (read-only!)."""
    folder = tmp_path_factory.mktemp("tiny_dbs")
    return _load_all(folder, lambda spec: TEST_DATA / f"{spec.slug}.json")


@pytest.fixture
def fresh_db(tmp_path):
    """Factory: fresh_db(slug) -> path of a new DB with the tiny rows, yours to edit."""

    def make(slug: str) -> Path:
        path = tmp_path / f"{slug}.db"
        load_file(STATEMENTS[slug], TEST_DATA / f"{slug}.json", path)
        return path

    return make


@pytest.fixture(scope="session")
def start_source():
    """Factory: start_source(slug, db_path, **config) -> base URL of a live service.

    ``config`` keys are service settings (``rate_limit="2 per minute"``,
    ``query_time_limit_ms=100``...). Servers run until the end of the session.
    """
    running = []

    def start(slug: str, db_path, **config) -> str:
        overrides = {key.upper(): value for key, value in config.items()}
        overrides["DB_PATH"] = str(db_path)
        app = create_app(slug, overrides)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        running.append((server, thread, app))
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server, thread, app in running:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        app.extensions[EXTENSION].db.close()


@pytest.fixture(scope="session")
def live_sources(sample_dbs, start_source) -> dict:
    """Slug -> base URL of the three services on the sample DBs."""
    return {slug: start_source(slug, path) for slug, path in sample_dbs.items()}


@pytest.fixture(scope="session")
def tiny_sources(tiny_dbs, start_source) -> dict:
    """Slug -> base URL of the three services on the tiny test DBs."""
    return {slug: start_source(slug, path) for slug, path in tiny_dbs.items()}


def _assert_error(response, status, code, message, details=None) -> dict:
    body = response.json()
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert set(body) == {"error"}
    error = body["error"]
    assert (error["code"], error["message"]) == (code, message)
    assert error["request_id"] == response.headers["X-Request-ID"]
    assert error.get("details") == details
    for leak in ("Traceback", "/tmp", "/work", ".py", ".db", "sqlite3."):
        assert leak not in response.text
    return error


@pytest.fixture(scope="session")
def assert_error():
    """assert_error(response, status, code, message, details=None): the whole envelope.

    Also checks the request id matches X-Request-ID and no path or traceback leaks.
    """
    return _assert_error
