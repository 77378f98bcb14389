#!/bin/bash
# Runs once, after the influxdb:2.7 image has set the instance up (DOCKER_INFLUXDB_INIT_MODE=setup):
# maps the bucket to an InfluxQL database and retention policy, so that Grafana's InfluxQL
# queries (and InfluxDB 1.x-style /query and /write) reach it.
set -euo pipefail
influx v1 dbrp create \
  --bucket-id "${DOCKER_INFLUXDB_INIT_BUCKET_ID}" \
  --db "${GREENWIRE_INFLUX_DB:-greenwire}" \
  --rp autogen \
  --default \
  --org "${DOCKER_INFLUXDB_INIT_ORG}" \
  --token "${DOCKER_INFLUXDB_INIT_ADMIN_TOKEN}"
echo "greenwire: bucket ${DOCKER_INFLUXDB_INIT_BUCKET} mapped to InfluxQL database ${GREENWIRE_INFLUX_DB:-greenwire}/autogen"
