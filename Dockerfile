# syntax=docker/dockerfile:1
# tiktok-events-relay container image: a wheel built from this tree, installed with the pinned versions of
# constraints.txt into a virtual environment, on the same Python base without pip, compilers or caches.
#
#   docker build -t tiktok-events-relay:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" \
#     --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" .
#
# The base is pinned by tag and by the digest of its multi-architecture index; bump both together.
ARG PYTHON_IMAGE=python:3.11.15-slim-bookworm@sha256:9c6f90801e6b68e772b7c0ca74260cbf7af9f320acec894e26fccdaccfbe3b47

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY constraints.txt ./
RUN pip install --no-cache-dir --constraint constraints.txt "build==1.6.1"
COPY pyproject.toml README.md ./
COPY consumer/ consumer/
# With the `msk` extra (Amazon MSK IAM authentication). Binary wheels only: the runtime dependencies all publish manylinux wheels, so no compiler is ever needed, and a
# dependency that would need one fails the build here instead of slipping a toolchain into the image.
RUN python -m build --wheel --outdir /dist . \
 && python -m venv --without-pip /opt/tiktok-relay \
 && pip --python /opt/tiktok-relay/bin/python install --no-cache-dir --only-binary=:all: \
      --constraint constraints.txt "$(echo /dist/*.whl)[msk]"

FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
ARG PYTHON_IMAGE
LABEL org.opencontainers.image.title="tiktok-events-relay" \
      org.opencontainers.image.description="Kafka consumer that relays Avro order and lead events to the TikTok Events API, at least once." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
# The service needs neither pip nor setuptools at run time; removing them shrinks what a scanner has to vouch for.
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
 && groupadd --system --gid 10001 relay \
 && useradd --system --uid 10001 --gid relay --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin relay
COPY --from=build /opt/tiktok-relay /opt/tiktok-relay
# Nothing is written at run time (the chart mounts the root file system read-only), so no bytecode either.
ENV PATH=/opt/tiktok-relay/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    RELAY_CONFIG=/etc/tiktok-relay/relay.yaml
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["tiktok-relay"]
CMD ["run"]
