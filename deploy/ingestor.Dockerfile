# The greenwire ingestor: MQTT -> validation -> InfluxDB. Built from the repository root:
#   docker build -f deploy/ingestor.Dockerfile -t greenwire-ingestor .
# Stage 1 builds wheels (greenwire[cloud] and its dependencies); stage 2 installs them into a
# clean image without build tools and runs as an unprivileged user.
ARG PYTHON_VERSION=3.12

FROM python:${PYTHON_VERSION}-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY edge ./edge
COPY cloud ./cloud
COPY simulators ./simulators
COPY transport ./transport
COPY greenwire ./greenwire
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[cloud]"

FROM python:${PYTHON_VERSION}-slim AS runtime
RUN groupadd --system --gid 10001 greenwire \
 && useradd --system --uid 10001 --gid greenwire --home-dir /var/lib/greenwire --shell /usr/sbin/nologin greenwire \
 && install -d -o greenwire -g greenwire -m 0750 /var/lib/greenwire /etc/greenwire
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels "greenwire[cloud]" && rm -rf /wheels
USER greenwire:greenwire
WORKDIR /var/lib/greenwire
VOLUME ["/var/lib/greenwire"]
ENV PYTHONUNBUFFERED=1
# Healthy when the broker and InfluxDB the config names both answer (exit 0); it connects under a
# throw-away client id, so the running ingestor's session is not disturbed.
HEALTHCHECK --interval=30s --timeout=20s --start-period=20s --retries=3 \
  CMD ["greenwire", "ingest", "check", "--config", "/etc/greenwire/ingest.yaml"]
# SIGTERM: store and acknowledge what was taken, then disconnect (docker stop waits stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["greenwire"]
CMD ["ingest", "run", "--config", "/etc/greenwire/ingest.yaml"]
