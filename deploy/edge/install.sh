#!/usr/bin/env bash
# Install the greenwire edge agent on a gateway: Raspberry Pi OS (Bookworm, 32 or 64 bit),
# Debian 12 or Ubuntu. Run as root on the gateway, from a copy of the repository or with a
# wheel/sdist of greenwire:
#
#   sudo deploy/edge/install.sh --config /path/to/edge.yaml [--source DIR_OR_WHEEL] [--mqtt-password-file F]
#
# What it does, idempotently (running it again upgrades in place):
#   - installs python3-venv from apt when missing
#   - creates the system user `greenwire` (group dialout for RS-485 adapters)
#   - creates /opt/greenwire (a venv with greenwire[edge]: pymodbus, aiomqtt; nothing else)
#   - installs the config to /etc/greenwire/edge.yaml (0640 root:greenwire) after
#     `greenwire edge validate` accepted it, and the MQTT password file (0640) if given
#   - installs the systemd unit (Type=notify, watchdog, restart) and the logrotate file
#   - enables and (re)starts greenwire-edge, then shows its status
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
source_path="$(cd "$here/../.." && pwd)"
config=""
password_file=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --config) config="$2"; shift 2 ;;
    --source) source_path="$2"; shift 2 ;;
    --mqtt-password-file) password_file="$2"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "error: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

[[ $(id -u) -eq 0 ]] || { echo "error: run as root (sudo $0 ...)" >&2; exit 1; }
[[ -n $config ]] || { echo "error: --config edge.yaml is required" >&2; exit 2; }
[[ -r $config ]] || { echo "error: cannot read $config" >&2; exit 2; }
command -v systemctl >/dev/null || { echo "error: systemd is required" >&2; exit 1; }
case "$(uname -m)" in
  aarch64|armv7l|armv6l|x86_64) ;;
  *) echo "warning: untested architecture $(uname -m)" >&2 ;;
esac

if ! python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends python3 python3-venv python3-pip >/dev/null
fi
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "error: greenwire needs Python 3.11 or newer (Raspberry Pi OS Bookworm has 3.11)" >&2; exit 1; }

if ! id greenwire >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/greenwire --shell /usr/sbin/nologin --user-group greenwire
fi
usermod -a -G dialout greenwire

install -d -m 0755 /opt/greenwire
[[ -x /opt/greenwire/bin/python ]] || python3 -m venv /opt/greenwire
/opt/greenwire/bin/pip install --quiet --upgrade pip
# A wheel/sdist file or a source directory; both take the [edge] extra.
/opt/greenwire/bin/pip install --quiet --upgrade "${source_path}[edge]"

install -d -m 0750 -o root -g greenwire /etc/greenwire
install -d -m 0750 -o greenwire -g greenwire /var/lib/greenwire /var/log/greenwire
/opt/greenwire/bin/greenwire edge validate "$config"
install -m 0640 -o root -g greenwire "$config" /etc/greenwire/edge.yaml
if [[ -n $password_file ]]; then
  install -m 0640 -o root -g greenwire "$password_file" /etc/greenwire/mqtt-password
fi

install -m 0644 "$here/greenwire-edge.service" /etc/systemd/system/greenwire-edge.service
install -m 0644 "$here/logrotate.conf" /etc/logrotate.d/greenwire-edge
systemctl daemon-reload
systemctl enable greenwire-edge >/dev/null
systemctl restart greenwire-edge
sleep 2
systemctl --no-pager --lines=5 status greenwire-edge || true
echo "greenwire edge agent installed: logs in /var/log/greenwire/edge.log, buffer in /var/lib/greenwire"
