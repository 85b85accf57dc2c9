# Metalayer Devnet: one image for every service of docker-compose.yml
# (anvil chains, the one-shot deployer, guardians, relayer, API).
#
# Build arguments (the defaults are public images a user with a registry pulls):
#   BASE_IMAGE   a Debian-based image with python3 >= 3.11 and venv (python:3.11-slim)
#   ANVIL_IMAGE  an image holding a glibc anvil at /usr/local/bin/anvil (the Foundry image)
# Where no registry is reachable, orchestrator/docker/images.py builds both locally
# (a debootstrap rootfs and the npm anvil binary) and passes them here.
#
# Contracts are compiled on the host before the build (`devnet compile`): the image
# gets contracts/out only, so it needs neither node nor solc.
# Python dependencies come from build/wheelhouse when that directory holds wheels
# (`pip install --no-index`, offline), from the package index otherwise.

ARG BASE_IMAGE=python:3.11-slim
ARG ANVIL_IMAGE=ghcr.io/foundry-rs/foundry:v1.7.1

FROM ${ANVIL_IMAGE} AS anvil

FROM ${BASE_IMAGE}

ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LANG=C.UTF-8

COPY --from=anvil /usr/local/bin/anvil /usr/local/bin/anvil

# Dependencies first: this layer changes only with pyproject.toml (or the wheelhouse).
COPY pyproject.toml build/wheelhouse* /tmp/build/
RUN set -eu; \
    python3 -m venv "$VIRTUAL_ENV"; \
    python3 -c "import tomllib; deps = tomllib.load(open('/tmp/build/pyproject.toml', 'rb'))['project']['dependencies']; print('\n'.join(deps))" > /tmp/build/requirements.txt; \
    if ls /tmp/build/*.whl >/dev/null 2>&1; then \
        pip install --no-cache-dir --no-index --find-links /tmp/build -r /tmp/build/requirements.txt; \
    else \
        pip install --no-cache-dir -r /tmp/build/requirements.txt; \
    fi; \
    rm -rf /tmp/build; \
    anvil --version >/dev/null

RUN set -eu; \
    useradd --system --uid 10001 --user-group --create-home --home-dir /home/devnet --shell /usr/sbin/nologin devnet; \
    mkdir -p /app/.devnet; \
    chown devnet:devnet /app/.devnet; \
    printf '%s\n' '#!/bin/sh' \
        'exec python3 -m orchestrator.cli "$@"' \
        > /usr/local/bin/devnet; \
    chmod 755 /usr/local/bin/devnet

WORKDIR /app
COPY orchestrator/ /app/orchestrator/
COPY services/ /app/services/
COPY contracts/out/ /app/contracts/out/
COPY pyproject.toml /app/pyproject.toml
RUN python3 -m compileall -q /app/orchestrator /app/services

USER devnet
# docker-compose.yml mounts the state volume (manifest, service databases) on
# /app/.devnet, so every path is the same as in native mode (.devnet/manifest.json).
EXPOSE 8000 8545 8546 8547 9100 9101 9102 9200
CMD ["devnet", "--help"]
