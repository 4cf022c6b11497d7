# One image for every service of docker-compose.yml: workers, maintenance, beat, Flower, API.
# The build stage compiles the prompt optimizer's hot modules with mypyc (see setup.py);
# the runtime stage installs that wheel without a compiler.
FROM python:3.12 AS build
ENV PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY workers ./workers
COPY scheduler ./scheduler
RUN pip install "setuptools>=68" "mypy>=1.10" \
    && INFRA_MIND_MYPYC=1 pip wheel --no-build-isolation --no-deps --wheel-dir /wheels .

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1
COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels && useradd --create-home --uid 1000 infra
USER infra
WORKDIR /home/infra

# Overridden per service in docker-compose.yml.
CMD ["celery", "-A", "workers.app", "worker", "-Q", "maintenance", "-l", "INFO"]
