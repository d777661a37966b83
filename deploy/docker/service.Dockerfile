# The one image recipe of every DIFE service, chosen by build arguments (no per-service copies).
# Build from the repository root, so the workspace's path dependencies (libs/) are in the context:
#   docker build -f deploy/docker/service.Dockerfile --build-arg SERVICE=dossier --build-arg PACKAGE=dossier \
#     -t dife/dossier .
# The build stage installs the service and its workspace dependencies from uv.lock into a venv (no dev
# dependencies, not editable); the runtime stage carries only that venv and the service's migrations.

FROM python:3.11-slim AS build

ARG SERVICE=rights-ledger
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

RUN pip install --no-cache-dir uv

WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY libs/ libs/
COPY services/ services/
COPY tools/ tools/
RUN uv sync --frozen --no-dev --no-editable --package "dife-${SERVICE}"


FROM python:3.11-slim

ARG SERVICE=rights-ledger
ARG PACKAGE=rights_ledger
ENV SERVICE_PACKAGE=${PACKAGE} \
    PORT=8000 \
    PATH=/app/.venv/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin dife

WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY services/${SERVICE}/alembic.ini services/${SERVICE}/alembic.ini
COPY services/${SERVICE}/migrations/ services/${SERVICE}/migrations/

USER dife
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz', timeout=2)"

# Migrations run as a separate step (compose command, Kubernetes Job), never implicitly at start.
CMD ["sh", "-c", "exec uvicorn --factory \"${SERVICE_PACKAGE}.app:create_app_from_env\" --host 0.0.0.0 --port \"${PORT}\""]
