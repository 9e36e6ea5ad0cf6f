# Vigil exporter image: `docker build -t vigil .`, then see docker-compose.yml.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY exporter ./exporter
COPY reporter ./reporter
RUN pip install --no-cache-dir . && useradd --system --no-create-home vigil \
    && mkdir /reports && chown vigil /reports
USER vigil
EXPOSE 9830
ENTRYPOINT ["vigil"]
CMD ["run", "-c", "/etc/vigil/vigil.yml"]
