# The image holds exactly what `pip install .` installs: the build stage makes the wheel from the
# whole project (minus what .dockerignore leaves out), the runtime stage installs only that wheel.
# A new package or data file therefore reaches the image the moment it reaches the distribution
# (tests/unit/test_dockerfile.py builds both and compares them).
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
RUN pip wheel --no-deps --wheel-dir /dist .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
COPY --from=build /dist/ /tmp/dist/
RUN pip install /tmp/dist/*.whl && rm -rf /tmp/dist && useradd --create-home --uid 10001 gridvoice
USER gridvoice
WORKDIR /home/gridvoice
ENV XDG_DATA_HOME=/home/gridvoice/data
EXPOSE 8080
CMD ["gridvoice", "run"]
