# One image for every Forewarn process: web (gunicorn), Celery worker, Celery beat and the setup job.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    FOREWARN_VAR_DIR=/app/var \
    MPLCONFIGDIR=/tmp/matplotlib

WORKDIR /app

RUN groupadd --system forewarn \
    && useradd --system --gid forewarn --home-dir /app --no-create-home --shell /usr/sbin/nologin forewarn

COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .

# Static files are collected into the image, so every container serves the same hashed names
# through WhiteNoise. The key and host below exist only for this build step.
RUN DJANGO_SECRET_KEY=collectstatic-only DJANGO_ALLOWED_HOSTS=localhost \
        python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p /app/var \
    && chown -R forewarn:forewarn /app/var

USER forewarn

EXPOSE 8000

CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
