# Multi-stage build: dependencies are built in a full image, the runtime image is slim
# and runs as a non-root user. Point DATABASE_URL at PostgreSQL 15+.
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install --no-cache-dir .

FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 CRM_ENVIRONMENT=production
RUN useradd --create-home --uid 10001 crm
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv/crm
COPY alembic.ini ./
COPY migrations ./migrations
USER crm
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["crm", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
