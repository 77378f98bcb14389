"""The gateway bundle (``greenwire edge bundle``): one tarball with what a gateway needs.

What goes in is decided by what the config model says each path is, never by file names:
the broker's password and TLS files and the wearables' consent list and hub tokens are
secrets (0600 under ``secrets/``), custom meter profiles are profiles (0644 under
``profiles/``), and the pseudonym key never travels (it is made on the gateway). The config
is rewritten to the installed paths under ``/etc/greenwire``. What cannot work on a gateway
(a file that does not exist) is refused; what probably will not (no broker, a buffer under
``/tmp``, which the unit's ``PrivateTmp`` hides and wipes) is warned about.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from greenwire.edge.config import EdgeConfig
from greenwire.edge.profile import PROFILES_DIR
from greenwire.shared.errors import ConfigError
from greenwire.shared.version import __version__

INSTALL_DIR = Path("/etc/greenwire")
UNIT_FILE = Path(__file__).parent / "systemd" / "greenwire-edge.service"
Kind = Literal["secret", "profile"]

INSTALL_SH = """#!/bin/sh
# Installs this greenwire edge bundle on a gateway (Raspberry Pi OS, Debian, Ubuntu): as root,
#   sh install.sh
# checks the checksums, makes the venv /opt/greenwire with greenwire[edge] {version} when it is
# missing, the system user greenwire (in dialout, for RS-485 adapters), installs the config,
# secrets (0640 root:greenwire) and profiles under /etc/greenwire and the systemd unit, validates
# the config and starts the agent. DESTDIR=/some/dir installs the files under that directory
# instead and leaves the system alone (no user, venv, ownership or systemd), for a check.
set -eu
cd "$(dirname "$0")"
sha256sum -c --quiet SHA256SUMS
root="${{DESTDIR:-}}"
if [ -z "$root" ]; then
  [ "$(id -u)" -eq 0 ] || {{ echo "error: run as root: sudo sh install.sh" >&2; exit 1; }}
  command -v python3 >/dev/null || {{ echo "error: python3 is missing: apt-get install python3 python3-venv" >&2; exit 1; }}
  if [ ! -x /opt/greenwire/bin/greenwire ]; then
    python3 -m venv /opt/greenwire
    /opt/greenwire/bin/pip install --quiet 'greenwire[edge]=={version}'
  fi
  id greenwire >/dev/null 2>&1 || useradd --system --home-dir /var/lib/greenwire --shell /usr/sbin/nologin greenwire
  getent group dialout >/dev/null && usermod -a -G dialout greenwire
fi
install -d -m 0750 "$root/etc/greenwire" "$root/var/lib/greenwire"
install -m 0640 edge.yaml "$root/etc/greenwire/edge.yaml"
for kind in secrets profiles; do
  [ -d "$kind" ] || continue
  install -d -m 0750 "$root/etc/greenwire/$kind"
  mode=0640; [ "$kind" = profiles ] && mode=0644
  for file in "$kind"/*; do install -m "$mode" "$file" "$root/etc/greenwire/$file"; done
done
install -d -m 0755 "$root/etc/systemd/system"
install -m 0644 greenwire-edge.service "$root/etc/systemd/system/greenwire-edge.service"
if [ -z "$root" ]; then
  chown -R root:greenwire /etc/greenwire
  chown greenwire:greenwire /var/lib/greenwire
  /opt/greenwire/bin/greenwire edge validate /etc/greenwire/edge.yaml
  systemctl daemon-reload
  systemctl enable --now greenwire-edge
  echo "greenwire edge agent for {gateway} installed and started: journalctl -u greenwire-edge -f"
else
  echo "greenwire edge bundle for {gateway} installed under $root"
fi
"""

README = """greenwire edge bundle for gateway {gateway} (site {site})
config hash {config_hash}, made {made} by greenwire {version}

Contents
  edge.yaml                 the gateway's config (validated when the bundle was made)
  greenwire-edge.service    systemd unit
  install.sh                installs all of it (sh install.sh, as root)
{secrets_line}  SHA256SUMS                checksums of everything above

On the gateway (Raspberry Pi OS / Debian / Ubuntu), as root, either run

  sh install.sh

which does all of the following, or by hand:
  sha256sum -c SHA256SUMS
  python3 -m venv /opt/greenwire && /opt/greenwire/bin/pip install 'greenwire[edge]'
  useradd --system --home /var/lib/greenwire greenwire || true
  install -d -m 0750 -o greenwire /etc/greenwire
  install -m 0640 -o root -g greenwire edge.yaml /etc/greenwire/edge.yaml
{copy_secrets}{copy_profiles}  install -m 0644 greenwire-edge.service /etc/systemd/system/
  # with wearables: make the pseudonym key here, on the gateway; it never leaves it
  #   /opt/greenwire/bin/greenwire edge keygen KEY_FILE && chown root:greenwire KEY_FILE && chmod 0640 KEY_FILE
  systemctl daemon-reload && systemctl enable --now greenwire-edge
  journalctl -u greenwire-edge -f
"""


@dataclass(frozen=True, slots=True)
class Carried:
    """A file the config refers to, what it is, and where it is installed on the gateway."""

    key: str
    source: Path
    kind: Kind

    @property
    def name(self) -> str:
        return f"{'secrets' if self.kind == 'secret' else 'profiles'}/{self.source.name}"


@dataclass(frozen=True, slots=True)
class Bundle:
    """The files of a bundle (name -> bytes and mode), where it goes, and the warnings for the installer."""

    files: dict[str, tuple[bytes, int]]
    prefix: str
    warnings: tuple[str, ...] = field(default=())


def carried_files(cfg: EdgeConfig, base: Path) -> list[Carried]:
    """Every file the config refers to that travels with it, classified by the config key it comes from."""
    def at(path: Path) -> Path:
        return path if path.is_absolute() else base / path

    found: list[Carried] = []
    if cfg.mqtt is not None:
        for key in ("password_file", "ca_file", "cert_file", "key_file"):
            value = getattr(cfg.mqtt, key)
            if value is not None:
                found.append(Carried(f"mqtt.{key}", at(value), "secret"))
    if cfg.wearables is not None and cfg.wearables.consent_file is not None:
        found.append(Carried("wearables.consent_file", at(cfg.wearables.consent_file), "secret"))
    if cfg.wearables is not None:
        for i, source in enumerate(cfg.wearables.sources):
            if source.token_file is not None:
                found.append(Carried(f"wearables.sources[{i}].token_file", at(source.token_file), "secret"))
            if source.smart is not None:  # the SMART client's private key signs its token requests
                found.append(Carried(f"wearables.sources[{i}].smart.key_file", at(source.smart.key_file), "secret"))
    for b, bus in enumerate(cfg.buses):
        for d, device in enumerate(bus.devices):
            profile = Path(device.profile)
            custom = profile.suffix in (".yaml", ".yml") and profile.parent != PROFILES_DIR
            if custom and all(c.source != at(profile) for c in found):
                found.append(Carried(f"buses[{b}].devices[{d}].profile", at(profile), "profile"))
    return found


def warnings_for(cfg: EdgeConfig) -> list[str]:
    """What will probably not work on a gateway installed from this bundle."""
    warnings: list[str] = []
    if cfg.mqtt is None:
        warnings.append("the config has no mqtt section: on the gateway the agent will find no broker "
                        "(add mqtt.url, username and password_file)")
    buffers = [("buffer", cfg.buffer_path)]
    if cfg.wearables is not None:
        buffers.append(("vitals buffer", cfg.vitals_buffer_path))
    for what, path in buffers:
        if (path == Path("/tmp") or Path("/tmp") in path.parents):
            warnings.append(f"the {what} is under /tmp ({path}): the unit's PrivateTmp hides it and a reboot "
                            "wipes it; use /var/lib/greenwire")
    return warnings


def build(config: Path, cfg: EdgeConfig, *, now: datetime | None = None) -> Bundle:
    """The bundle of a validated config read from ``config``; a referenced file that is missing is refused."""
    text = config.read_text(encoding="utf-8")
    carried = carried_files(cfg, config.parent)
    files: dict[str, tuple[bytes, int]] = {}
    for item in carried:
        try:
            data = item.source.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{item.key}: cannot read {item.source} ({exc.strerror}): the bundle needs "
                              "the file beside the config (or give its path as it is on this machine)",
                              path=str(config)) from exc
        files[item.name] = (data, 0o600 if item.kind == "secret" else 0o644)
        spellings = {str(item.source)}
        if item.source.is_relative_to(config.parent):
            spellings.add(str(item.source.relative_to(config.parent)))
        for spelled in sorted(spellings, key=len, reverse=True):
            text = text.replace(spelled, str(INSTALL_DIR / item.name))
    made = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    has_secrets = any(c.kind == "secret" for c in carried)
    has_profiles = any(c.kind == "profile" for c in carried)
    readme = README.format(
        gateway=cfg.gateway, site=cfg.site, config_hash=cfg.config_hash, made=made, version=__version__,
        secrets_line="  secrets/                  files the config refers to (passwords, certificates), mode 0600\n"
        if has_secrets else "",
        copy_secrets="  cp -r secrets /etc/greenwire/ && chown -R root:greenwire /etc/greenwire/secrets "
        "&& chmod 0640 /etc/greenwire/secrets/*\n" if has_secrets else "",
        copy_profiles="  cp -r profiles /etc/greenwire/ && chmod 0644 /etc/greenwire/profiles/*\n"
        if has_profiles else "",
    ).encode()
    install = INSTALL_SH.format(version=__version__, gateway=cfg.gateway).encode()
    files = {"edge.yaml": (text.encode(), 0o640), "greenwire-edge.service": (UNIT_FILE.read_bytes(), 0o644),
             "README": (readme, 0o644), "install.sh": (install, 0o755), **files}
    sums = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, (data, _) in sorted(files.items()))
    files["SHA256SUMS"] = (sums.encode(), 0o644)
    return Bundle(files, f"{cfg.gateway}-{cfg.config_hash}", tuple(warnings_for(cfg)))


def write(bundle: Bundle, target: Path) -> None:
    """Write ``bundle`` as a gzipped tarball, every file under one ``GATEWAY-HASH/`` folder."""
    with tarfile.open(target, "w:gz") as tar:
        for name, (data, mode) in sorted(bundle.files.items()):
            info = tarfile.TarInfo(f"{bundle.prefix}/{name}")
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            tar.addfile(info, io.BytesIO(data))
