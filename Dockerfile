# One image for every service of docker-compose.yml: workers, maintenance, beat, Flower.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY workers ./workers
COPY scheduler ./scheduler
RUN pip install . && useradd --create-home --uid 1000 infra
USER infra

# Overridden per service in docker-compose.yml.
CMD ["celery", "-A", "workers.app", "worker", "-Q", "maintenance", "-l", "INFO"]
