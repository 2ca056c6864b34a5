# syntax=docker/dockerfile:1
# Ringback: a slim, non-root image running `ringback serve`. Two stages: the first builds the
# wheel (which carries the alembic migrations, so `ringback migrate` works in the image), the
# second installs it into a virtualenv on a clean base.

FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m pip install --no-cache-dir --upgrade pip build
COPY pyproject.toml README.md alembic.ini ./
COPY src ./src
COPY migrations ./migrations
RUN python -m build --wheel --outdir /dist

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/ringback/bin:$PATH \
    RINGBACK_LOG_FORMAT=json
RUN python -m venv /opt/ringback \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin ringback
COPY --from=build /dist/*.whl /tmp/
RUN /opt/ringback/bin/pip install --no-cache-dir /tmp/*.whl && rm /tmp/*.whl
USER ringback
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["ringback"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
