# gateway in a container: a slim Python base, the package (and the extras you name) in a
# venv, the demo site as the default /srv/site, a non-root user. Build and run:
#   docker build -t gateway .          (every extra; --build-arg EXTRAS= for the plain install)
#   docker run --rm -p 8000:8000 gateway
# Serve your own site: mount it over /srv/site, or point --config at a mounted file.
# BASE: any Debian-like image with python3 (>= 3.11) and its venv module; the official slim
# image by default. Where no registry can be pulled from, make one from the Debian mirror:
#   deploy/docker/make-base.sh    then    --build-arg BASE=localhost/gateway-base:bookworm

ARG BASE=python:3.11-slim

FROM ${BASE} AS build
ARG EXTRAS="all"
RUN python3 -m venv /opt/gateway
COPY pyproject.toml README.md /src/
COPY gateway /src/gateway
RUN /opt/gateway/bin/pip install --no-cache-dir "/src${EXTRAS:+[$EXTRAS]}"

FROM ${BASE}
ENV PATH=/opt/gateway/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin gateway
COPY --from=build /opt/gateway /opt/gateway
COPY sites/demo /srv/site
COPY deploy/docker/gateway.toml /srv/site/gateway.toml
WORKDIR /srv/site
USER 10001:10001
EXPOSE 8000
# SIGTERM starts the graceful shutdown (docker stop waits 10 s by default: keep
# timeouts.shutdown below it, or pass --stop-timeout).
STOPSIGNAL SIGTERM
# python, not curl: the slim image has no curl. urlopen fails on anything but 2xx.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/__gateway/health', timeout=2)"]
ENTRYPOINT ["gateway", "serve"]
CMD ["--config", "/srv/site/gateway.toml"]
