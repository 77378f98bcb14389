#!/usr/bin/env bash
# Add a broker user with a random password (printed once) and its ACL block.
#
#   deploy/mosquitto/add-user.sh gateway campus-a gw-01   # a gateway: writes greenwire/v1/campus-a/gw-01/#
#   deploy/mosquitto/add-user.sh service greenwire.ingest # the ingestor (its ACL is in ./acl already)
#   deploy/mosquitto/add-user.sh service greenwire.carbon # the carbon engine
#
# Writes ./passwd (hashed, via mosquitto_passwd from the Debian package `mosquitto-clients`
# or `mosquitto`, or the eclipse-mosquitto image when docker is there) and, for the ingestor,
# ./<service>.password (greenwire.ingest: ingest.password) for the compose secrets. Restart or SIGHUP
# Mosquitto to load the change.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kind="${1:?usage: add-user.sh gateway SITE GATEWAY | service NAME}"
id_re='^[a-z0-9][a-z0-9_-]{0,62}$'

case "$kind" in
  gateway)
    site="${2:?site id}"; user="${3:?gateway id}"
    [[ $site =~ $id_re && $user =~ $id_re ]] || { echo "error: site and gateway ids are [a-z0-9][a-z0-9_-]{0,62}" >&2; exit 2; }
    ;;
  service)
    user="${2:?service user, e.g. greenwire.ingest}"
    [[ $user == greenwire.* ]] || { echo "error: service users are named greenwire.<name>" >&2; exit 2; }
    ;;
  *) echo "error: unknown kind $kind (gateway or service)" >&2; exit 2 ;;
esac

password="$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 32)"
touch "$here/passwd"
chmod 600 "$here/passwd"
if command -v mosquitto_passwd >/dev/null; then
  mosquitto_passwd -b "$here/passwd" "$user" "$password"
elif command -v docker >/dev/null; then
  docker run --rm -v "$here:/work" eclipse-mosquitto:2.0.20 mosquitto_passwd -b /work/passwd "$user" "$password"
else
  echo "error: no mosquitto_passwd: apt-get install mosquitto-clients (or install docker)" >&2
  exit 1
fi

if [[ $kind == gateway ]] && ! grep -qx "user $user" "$here/acl"; then
  {
    echo ""
    echo "user $user"
    echo "topic write greenwire/v1/$site/$user/readings"
    echo "topic write greenwire/v1/$site/$user/vitals"
    echo "topic write greenwire/v1/$site/$user/status"
    echo "topic read greenwire/v1/$site/$user/commit"
  } >>"$here/acl"
fi
if [[ $user == greenwire.* ]]; then
  service="${user#greenwire.}"
  umask 077
  printf '%s\n' "$password" >"$here/$service.password"
  echo "$user password written to $here/$service.password (the compose secret mqtt_${service}_password)"
else
  echo "user $user, password: $password"
  echo "(put it in the gateway's mqtt.password_file; it is not shown again)"
fi
