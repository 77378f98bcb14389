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

# The health pilot keeps its data apart: two buckets (raw 30 days, aggregates 730 days) mapped to
# one InfluxQL database with the retention-policy names its queries use ("raw", "aggregates").
health_db="${GREENWIRE_HEALTH_INFLUX_DB:-greenwire_health}"
for spec in "raw:${health_db}:720h" "aggregates:${health_db}_aggregates:17520h"; do
  IFS=: read -r rp bucket retention <<<"$spec"
  bucket_id="$(influx bucket create --name "$bucket" --retention "$retention" \
    --org "${DOCKER_INFLUXDB_INIT_ORG}" --token "${DOCKER_INFLUXDB_INIT_ADMIN_TOKEN}" --hide-headers | cut -f1)"
  default=()
  [[ $rp == raw ]] && default=(--default)
  influx v1 dbrp create --bucket-id "$bucket_id" --db "$health_db" --rp "$rp" "${default[@]}" \
    --org "${DOCKER_INFLUXDB_INIT_ORG}" --token "${DOCKER_INFLUXDB_INIT_ADMIN_TOKEN}"
  echo "greenwire: bucket $bucket mapped to InfluxQL database $health_db/$rp"
done
