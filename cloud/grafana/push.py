"""Upload the datasource, the folder, the dashboards and the alert rules to a Grafana server.

For users who do not provision from files: ``greenwire grafana push --url URL --token TOKEN``
(a service-account token with the Editor role, or Admin for the datasource). Through
grafana-client; every step is idempotent (create, or update what exists), so pushing
again after ``greenwire grafana build`` brings a server up to date:

1. ``GET /api/datasources/uid/{uid}``: ``PUT`` it if it exists, else ``POST /api/datasources``, for the
   energy datasource and the health pilot's
2. ``GET /api/folders/greenwire``, else ``POST /api/folders``
3. ``POST /api/dashboards/db`` for each dashboard, ``overwrite: true``, into the folder
4. ``PUT /api/v1/provisioning/folder/greenwire/rule-groups/greenwire``: the alert rules

Errors from Grafana are translated here into ``GrafanaError`` naming the step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from greenwire.cloud.grafana.alert_rules import FOLDER_TITLE, FOLDER_UID, GROUP, api_rule_group
from greenwire.cloud.grafana.dashboards import all_dashboards
from greenwire.cloud.grafana.model import DATASOURCE_UID, HEALTH_DATASOURCE_UID
from greenwire.shared.errors import GreenwireError


class GrafanaError(GreenwireError):
    """Grafana refused or could not be reached."""


@dataclass(frozen=True, slots=True)
class InfluxTarget:
    """Where the datasource points: an InfluxDB URL and the InfluxQL database (or DBRP name)."""

    url: str
    database: str
    token: str | None = None
    """InfluxDB 2.x API token, sent as ``Authorization: Token ...``."""
    health_database: str = "greenwire_health"


def datasources(target: InfluxTarget) -> list[dict[str, Any]]:
    """Both datasources as the HTTP API takes them (the same as the provisioning file)."""
    return [
        datasource(target, DATASOURCE_UID, "greenwire InfluxDB", target.database, default=True),
        datasource(target, HEALTH_DATASOURCE_UID, "greenwire health pilot", target.health_database),
    ]


def datasource(target: InfluxTarget, uid: str, name: str, database: str, *, default: bool = False) -> dict[str, Any]:
    """One InfluxQL datasource."""
    body: dict[str, Any] = {
        "name": name,
        "uid": uid,
        "type": "influxdb",
        "access": "proxy",
        "url": target.url,
        "isDefault": default,
        "jsonData": {"version": "InfluxQL", "dbName": database, "httpMode": "POST", "timeInterval": "10s"},
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

    for body in datasources(target):
        uid = body["uid"]
        if exists(f"datasource {uid}", lambda u=uid: api.datasource.get_datasource_by_uid(u)):  # type: ignore[misc]
            step(f"update datasource {uid}",
                 lambda u=uid, b=body: api.datasource.update_datasource_by_uid(u, b))  # type: ignore[misc]
        else:
            step(f"create datasource {uid}", lambda b=body: api.datasource.create_datasource(b))  # type: ignore[misc]
        echo(f"datasource {uid} -> {target.url} ({body['jsonData']['dbName']})")
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
