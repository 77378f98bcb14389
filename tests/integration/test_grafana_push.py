"""`greenwire grafana push` through grafana-client, against a small real HTTP server that behaves like
Grafana's API for the calls it makes and records them (no Grafana can be installed here)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from greenwire.cli import app

pytestmark = pytest.mark.integration

SCHEMA = json.loads((Path(__file__).parents[1] / "data" / "grafana-dashboard-schema" / "dashboard.jsonschema.json")
                    .read_text())
TOKEN = "glsa_test_token"


class FakeGrafana:
    """Datasources, folders, dashboards and rule groups in memory; every request recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.datasources: dict[str, Any] = {}
        self.folders: dict[str, Any] = {}
        self.dashboards: dict[str, Any] = {}
        self.rule_groups: dict[str, Any] = {}
        grafana = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                grafana.calls.append((self.command, self.path, body))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._reply(401, {"message": "invalid API key"})
                    return
                self._reply(*grafana.route(self.command, self.path, body))

            do_GET = do_POST = do_PUT = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-grafana", daemon=True)

    def route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        parts = path.split("?")[0].strip("/").split("/")
        if parts[:3] == ["api", "datasources", "uid"]:
            uid = parts[3]
            if method == "GET":
                return (200, self.datasources[uid]) if uid in self.datasources else (404, {"message": "not found"})
            self.datasources[uid] = body
            return 200, {"message": "Datasource updated"}
        if parts == ["api", "datasources"] and method == "POST":
            self.datasources[body["uid"]] = body
            return 200, {"id": 1, "message": "Datasource added"}
        if parts[:2] == ["api", "folders"]:
            if method == "GET":
                uid = parts[2]
                return (200, self.folders[uid]) if uid in self.folders else (404, {"message": "folder not found"})
            self.folders[body["uid"]] = body
            return 200, {"uid": body["uid"], "title": body["title"]}
        if parts == ["api", "dashboards", "db"] and method == "POST":
            if body["folderUid"] not in self.folders:
                return 400, {"message": "folder not found"}
            try:
                jsonschema.validate(body["dashboard"], SCHEMA, cls=jsonschema.Draft7Validator)
            except jsonschema.ValidationError as exc:
                return 400, {"message": f"invalid dashboard: {exc.message}"}
            self.dashboards[body["dashboard"]["uid"]] = body
            return 200, {"status": "success", "uid": body["dashboard"]["uid"]}
        if parts[:5] == ["api", "v1", "provisioning", "folder", "greenwire"] and method == "PUT":
            self.rule_groups[parts[6]] = body
            return 200, body
        return 404, {"message": f"no route {method} {path}"}

    def __enter__(self) -> FakeGrafana:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    with FakeGrafana() as server:
        yield server


def _push(grafana: FakeGrafana, token: str = TOKEN) -> Any:
    return CliRunner().invoke(app, ["grafana", "push", "--url", grafana.url, "--token", token,
                                    "--influx-url", "http://influxdb:8086", "--influx-db", "greenwire",
                                    "--influx-token", "influx-secret"])


def test_push_creates_then_updates_everything(grafana: FakeGrafana) -> None:
    result = _push(grafana)
    assert result.exit_code == 0, result.output
    assert "pushed 5 dashboards" in result.output
    first = [(m, p.split("?")[0]) for m, p, _ in grafana.calls]
    assert first == [
        ("GET", "/api/datasources/uid/greenwire-influxdb"),
        ("POST", "/api/datasources"),
        ("GET", "/api/datasources/uid/greenwire-influxdb-health"),
        ("POST", "/api/datasources"),
        ("GET", "/api/folders/greenwire"),
        ("POST", "/api/folders"),
        ("POST", "/api/dashboards/db"), ("POST", "/api/dashboards/db"),
        ("POST", "/api/dashboards/db"), ("POST", "/api/dashboards/db"), ("POST", "/api/dashboards/db"),
        ("PUT", "/api/v1/provisioning/folder/greenwire/rule-groups/greenwire"),
    ]
    source = grafana.datasources["greenwire-influxdb"]
    assert source["type"] == "influxdb" and source["jsonData"]["dbName"] == "greenwire"
    assert source["secureJsonData"] == {"httpHeaderValue1": "Token influx-secret"}
    assert grafana.datasources["greenwire-influxdb-health"]["jsonData"]["dbName"] == "greenwire_health"
    assert set(grafana.dashboards) == {"greenwire-portfolio", "greenwire-building", "greenwire-fleet",
                                       "greenwire-health", "greenwire-zone"}
    assert all(d["overwrite"] and d["folderUid"] == "greenwire" for d in grafana.dashboards.values())
    rules = grafana.rule_groups["greenwire"]["rules"]
    assert {r["title"] for r in rules} == {"Gateway offline", "Gateway buffer growing", "Carbon budget at risk",
                                           "Gateway readings not committed", "Anomaly found in a building's meters"}

    grafana.calls.clear()
    assert _push(grafana).exit_code == 0
    second = [(m, p.split("?")[0]) for m, p, _ in grafana.calls][:6]
    assert second == [
        ("GET", "/api/datasources/uid/greenwire-influxdb"),
        ("PUT", "/api/datasources/uid/greenwire-influxdb"),
        ("GET", "/api/datasources/uid/greenwire-influxdb-health"),
        ("PUT", "/api/datasources/uid/greenwire-influxdb-health"),
        ("GET", "/api/folders/greenwire"),
        ("POST", "/api/dashboards/db"),
    ], "a second push updates in place"


def test_a_refused_token_is_one_line_and_exit_1(grafana: FakeGrafana) -> None:
    result = _push(grafana, token="wrong")
    assert result.exit_code == 1
    assert "401" in result.output and "invalid API key" in result.output
    assert not grafana.dashboards


def test_an_unreachable_grafana_is_an_error(tmp_path: Path) -> None:
    with FakeGrafana() as server:
        url = server.url
    result = CliRunner().invoke(app, ["grafana", "push", "--url", url, "--token", TOKEN])
    assert result.exit_code == 1 and "error: Grafana" in result.output
