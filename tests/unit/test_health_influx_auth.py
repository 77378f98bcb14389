"""The health service's InfluxDB credentials: from a file or the environment, never from the config text."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from greenwire.cloud.health.config import HealthInflux


def test_password_from_a_file_or_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "influx-password"
    secret.write_text("from-the-file\n")
    assert HealthInflux(url="http://db:8086", username="health", password_file=secret).credentials() == (
        "health", "from-the-file")
    monkeypatch.setenv("HEALTH_INFLUX_PASSWORD", "from-the-env")
    influx = HealthInflux(url="http://db:8086", username="health", password_env="HEALTH_INFLUX_PASSWORD")
    assert influx.credentials() == ("health", "from-the-env")
    assert "from-the" not in repr(influx)
    assert HealthInflux(url="http://db:8086").credentials() == (None, None)


@pytest.mark.parametrize("fields", [{"password_env": "X"}, {"username": "u", "password_env": "X",
                                                             "password_file": "/etc/hostname"}])
def test_a_password_needs_a_username_and_one_source(fields: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        HealthInflux(url="http://db:8086", **fields)  # type: ignore[arg-type]
