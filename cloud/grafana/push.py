"""Upload the datasource, the folder, the dashboards and the alert rules to a Grafana server.

For users who do not provision from files: ``greenwire grafana push --url URL --token TOKEN``
(a service-account token with the Editor role, or Admin for the datasource). Through
grafana-client; every step is idempotent (create, or update what exists), so pushing
again after ``greenwire grafana build`` brings a server up to date:

1. ``GET /api/datasources/uid/greenwire-influxdb``: ``PUT`` it if it exists, else ``POST /api/datasources``
2. ``GET /api/folders/greenwire``, else ``POST /api/folders``
3. ``POST /api/dashboards/db`` for each dashboard, ``overwrite: true``, into the folder
4. ``PUT /api/v1/provisioning/folder/greenwire/rule-groups/greenwire``: the alert rules

Errors from Grafana are translated here into ``GrafanaError`` naming the step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cloud.grafana.alerts import FOLDER_TITLE, FOLDER_UID, GROUP, api_rule_group
from cloud.grafana.dashboards import all_dashboards
from cloud.grafana.model import DATASOURCE_UID
from shared.errors import GreenwireError


class GrafanaError(GreenwireError):
    """Grafana refused or could not be reached."""


@dataclass(frozen=True, slots=True)
class InfluxTarget:
    """Where the datasource points: an InfluxDB URL and the InfluxQL database (or DBRP name)."""

    url: str
    database: str
    token: str | None = None
    """InfluxDB 2.x API token, sent as ``Authorization: Token ...``."""


def datasource(target: InfluxTarget) -> dict[str, Any]:
    """The datasource as the HTTP API takes it (the same as the provisioning file)."""
    body: dict[str, Any] = {
        "name": "greenwire InfluxDB",
        "uid": DATASOURCE_UID,
        "type": "influxdb",
        "access": "proxy",
        "url": target.url,
        "isDefault": True,
        "jsonData": {"dbName": target.database, "httpMode": "POST", "timeInterval": "10s"},
    }
    if target.token:
        body["jsonData"]["httpHeaderName1"] = "Authorization"
        body["secureJsonData"] = {"httpHeaderValue1": f"Token {target.token}"}
    return body


def push(url: str, token: str, target: InfluxTarget, *, timeout_s: float = 10.0,
         echo: Callable[[str], None] = lambda _: None) -> int:
    """Push everything; returns the number of dashboards uploaded."""
    from grafana_client.api import GrafanaApi

    api = GrafanaApi.from_url(url, credential=token, timeout=timeout_s)
    try:
        return _push(api, url, target, echo)
    finally:
        # niquests keeps an idle-connection watcher thread per pool until the session closes.
        api.client.s.close()


def _push(api: Any, url: str, target: InfluxTarget, echo: Callable[[str], None]) -> int:
    from grafana_client.client import GrafanaClientError, GrafanaException

    def step(what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except GrafanaException as exc:
            raise GrafanaError(f"Grafana {url}: {what}: {_reason(exc)}") from exc
        except (OSError, ValueError) as exc:
            raise GrafanaError(f"Grafana {url}: {what}: {exc}") from exc

    def exists(what: str, call: Callable[[], Any]) -> bool:
        try:
            call()
        except GrafanaClientError as exc:
            if exc.status_code == 404:
                return False
            raise GrafanaError(f"Grafana {url}: {what}: {_reason(exc)}") from exc
        except (OSError, ValueError) as exc:
            raise GrafanaError(f"Grafana {url}: {what}: {exc}") from exc
        return True

    body = datasource(target)
    if exists("datasource", lambda: api.datasource.get_datasource_by_uid(DATASOURCE_UID)):
        step("update datasource", lambda: api.datasource.update_datasource_by_uid(DATASOURCE_UID, body))
    else:
        step("create datasource", lambda: api.datasource.create_datasource(body))
    echo(f"datasource {DATASOURCE_UID} -> {target.url} ({target.database})")
    if not exists("folder", lambda: api.folder.get_folder(FOLDER_UID)):
        step("create folder", lambda: api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID))
    boards = all_dashboards()
    for name, board in boards.items():
        payload = {"dashboard": board.to_json(), "folderUid": FOLDER_UID, "overwrite": True,
                   "message": "greenwire grafana push"}
        step(f"dashboard {name}", lambda p=payload: api.dashboard.update_dashboard(p))  # type: ignore[misc]
        echo(f"dashboard {board.uid}: {board.title}")
    step("alert rules", lambda: api.alertingprovisioning.update_rule_group(FOLDER_UID, GROUP, api_rule_group()))
    echo(f"alert rules: {len(api_rule_group()['rules'])} in group {GROUP}")
    return len(boards)


def _reason(exc: Any) -> str:
    """Status, grafana-client's message, and Grafana's own ``message`` from the body when it has one."""
    text = f"{exc.status_code} {exc.message}"
    response = exc.response
    try:
        body = response.json() if hasattr(response, "json") else response
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("message") and str(body["message"]) not in text:
        text += f": {body['message']}"
    return text
