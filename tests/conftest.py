"""Shared fixtures: SQLite files loaded by data_sources.load, real services on :0."""

import socket
import threading
from pathlib import Path

import pytest
from werkzeug.serving import ThreadedWSGIServer

from data_sources.load import load_file
from data_sources.service import create_app
from data_sources.source import EXTENSION
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


def pick_free_port() -> int:
    """Return a loopback port that was free a moment ago (bound to :0, released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer(ThreadedWSGIServer):
    """A werkzeug server on 127.0.0.1:0 in a daemon thread.

    ``stop()`` also cuts open keep-alive connections, so a stopped source really is
    down for clients holding a pooled connection to it.
    """

    def __init__(self, app):
        super().__init__("127.0.0.1", 0, app)
        self._connections = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._stopped = False

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return f"http://127.0.0.1:{self.server_port}"

    def get_request(self):
        """Accept a connection and remember it, so stop() can cut it."""
        connection, address = super().get_request()
        with self._lock:
            self._connections.add(connection)
        return connection, address

    def shutdown_request(self, request):
        """Forget a connection once its handler is done with it."""
        with self._lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def start(self) -> "LiveServer":
        """Serve in the daemon thread; return self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the listener and every open connection (idempotent)."""
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
                pass  # the client closed it already
            connection.close()
        self._thread.join(timeout=10)


@pytest.fixture(scope="session")
def start_server():
    """Factory: start_server(app) -> running LiveServer, stopped at session end.

    For fixtures of any scope; call ``server.stop()`` to stop it earlier.
    """
    servers = []

    def start(app) -> LiveServer:
        servers.append(LiveServer(app).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def serve_wsgi():
    """Factory: serve_wsgi(app) -> (base URL, stop); stopped when the test ends."""
    servers = []

    def serve(app):
        servers.append(LiveServer(app).start())
        return servers[-1].url, servers[-1].stop

    yield serve
    for server in servers:
        server.stop()


@pytest.fixture
def free_port() -> int:
    """A loopback port nothing listens on (for a subprocess to bind)."""
    return pick_free_port()


@pytest.fixture
def closed_url(free_port) -> str:
    """A loopback URL nothing listens on (the port was bound, then released)."""
    return f"http://127.0.0.1:{free_port}"


@pytest.fixture(scope="session")
def start_source(start_server):
    """Factory: start_source(slug, db_path, **config) -> base URL of a live service.

    ``config`` keys are service settings (``rate_limit="2 per minute"``,
    ``query_time_limit_ms=100``...). Servers run until the end of the session.
    """
    running = []

    def start(slug: str, db_path, **config) -> str:
        overrides = {key.upper(): value for key, value in config.items()}
        overrides["DB_PATH"] = str(db_path)
        app = create_app(slug, overrides)
        running.append((start_server(app), app))
        return running[-1][0].url

    yield start
    for server, app in running:
        server.stop()  # before its database closes
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
