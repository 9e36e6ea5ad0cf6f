# Vigil image: `docker build -t vigil .`, then see docker-compose.yml. Installs vigil[all] (every
# optional extra) from requirements.lock: exact versions with their hashes, for Linux x86_64 and
# CPython 3.11 (`make lock` regenerates it after pyproject.toml changes).
FROM python:3.11-slim
WORKDIR /app
# The dependencies first (a layer kept while only the code changes): every package, the build
# backend included, pinned and checked against its hash; wheels only, nothing compiled here.
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes --only-binary=:all: -r requirements.lock
# Vigil itself, built with the locked setuptools; the wheel carries the alert rules and
# prometheus.yml (setup.py) so `vigil demo` in the image runs Prometheus with them.
COPY pyproject.toml setup.py MANIFEST.in README.md prometheus.yml ./
COPY alerting/*.rules.yml alerting/alertmanager.yml ./alerting/
COPY exporter ./exporter
COPY reporter ./reporter
COPY docker/healthcheck.py /usr/local/bin/vigil-healthcheck
# /var/lib/vigil: the exporter's state (cameras.state_file, the local evidence directory, P4
# tickets). docker-compose.yml mounts a named volume there, which takes this owner and mode.
RUN pip install --no-cache-dir --no-deps --no-build-isolation '.[all]' && pip check \
    && rm -rf build *.egg-info \
    && chmod 0755 /usr/local/bin/vigil-healthcheck \
    && useradd --system --no-create-home vigil \
    && mkdir -p /reports /var/lib/vigil \
    && chown vigil /reports /var/lib/vigil && chmod 0700 /var/lib/vigil
USER vigil
EXPOSE 9830
# Ready once the first inventory poll has finished (/-/ready). With TLS or basic auth on the
# exporter, set VIGIL_HEALTHCHECK_URL=https://... and friends (docker/healthcheck.py). Services of
# this image that serve no exporter (the simulator, the reporter) override it in docker-compose.yml.
HEALTHCHECK --interval=30s --timeout=10s --start-period=2m --retries=3 CMD ["vigil-healthcheck"]
ENTRYPOINT ["vigil"]
CMD ["run", "-c", "/etc/vigil/vigil.yml"]
