# One image for web, worker, beat and the one-shot migrate job (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VAR_DIR=/app/var

WORKDIR /app

# Dependencies first, so a code change does not reinstall them. All pinned in requirements.lock.
COPY requirements.lock ./
RUN pip install -r requirements.lock

COPY . .

# Hashed, compressed static files are baked into the image and served by WhiteNoise.
# The key below exists only for this build step; the running containers get SECRET_KEY from the environment.
RUN SECRET_KEY=collectstatic-only-build-key DEBUG=0 python manage.py collectstatic --noinput \
    && useradd --create-home --uid 1000 weshop \
    && mkdir -p /app/var \
    && chown weshop /app/var

USER weshop
EXPOSE 8000

CMD ["gunicorn", "config.wsgi", "--config", "gunicorn.conf.py", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
