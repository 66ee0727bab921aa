FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY apps apps
COPY trainer trainer
COPY config config
RUN pip install torch==2.13.0 && pip install .
COPY . .
EXPOSE 8000
