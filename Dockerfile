FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY routing ./routing
COPY templates ./templates
COPY emulator ./emulator
COPY migrations ./migrations
COPY examples ./examples
RUN pip install . && useradd --create-home --uid 10001 gridvoice
USER gridvoice
ENV XDG_DATA_HOME=/home/gridvoice/data
EXPOSE 8080
CMD ["gridvoice", "run"]
