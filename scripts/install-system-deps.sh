#!/usr/bin/env bash
# Install the Debian packages greenwire runs against, only those that are missing:
# Mosquitto (broker), InfluxDB 1.x (database), VictoriaMetrics (proves the InfluxDB v2
# write path in tests), socat (RS-485 tests through pseudo-terminals), mbpoll (libmodbus: the
# independent Modbus client that reads the BMS registers in tests), faketime
# (libfaketime: the gateway clock-step test) and Chromium (the report page is opened in a
# headless browser by a test; carbon statements are printed to PDF), poppler-utils (pdftoppm: a
# test looks at the PDF statement's pages as pictures, and rasterises a certificate) and zbar-tools
# (a certificate's QR code is read back by an independent decoder), and gcc with Python's
# headers (the ingestor's compiled pass, cloud/ingest/_lines.c, built by `make install`).
# Works on Debian 12, Ubuntu and Raspberry Pi OS; uses sudo when not root.
set -euo pipefail

declare -A BINARY_OF=(
  [mosquitto]=/usr/sbin/mosquitto
  [mosquitto-clients]=/usr/bin/mosquitto_pub
  [influxdb]=/usr/bin/influxd
  [victoria-metrics]=/usr/bin/victoria-metrics
  [socat]=/usr/bin/socat
  [mbpoll]=/usr/bin/mbpoll
  [faketime]=/usr/bin/faketime
  [chromium]=/usr/bin/chromium
  [poppler-utils]=/usr/bin/pdftoppm
  [zbar-tools]=/usr/bin/zbarimg
  [python3-venv]=/usr/lib/python3/dist-packages/ensurepip
  [gcc]=/usr/bin/gcc
)

missing=()
for package in "${!BINARY_OF[@]}"; do
  [[ -e "${BINARY_OF[$package]}" ]] || missing+=("$package")
done
# A Python that already has venv (pyenv, a container image) does not need Debian's.
if python3 -c 'import ensurepip, venv' 2>/dev/null; then
  missing=("${missing[@]/python3-venv}")
fi
# The ingestor's compiled pass (setup.py builds cloud/ingest/_lines.c) needs Python's headers;
# a Python built from source (pyenv) has them, Debian's needs python3-dev.
if ! python3 -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null; then
  missing+=("python3-dev")
fi
read -r -a missing <<<"${missing[*]}"
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "error: missing ${missing[*]} and no apt-get here: install them with your package manager" >&2
  exit 1
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  SUDO="sudo"
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packages start system services where systemd runs; greenwire starts its own
# instances on free ports, so the system ones are not needed (and not touched otherwise).
