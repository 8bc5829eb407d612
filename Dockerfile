# zendesk-batch-triage as a container: `docker build -t zendesk-batch-triage .` (or podman build).
# Configure with a mounted /app/config/zdtriage.toml, or with ZDTRIAGE_<SECTION>__<KEY> variables alone;
# secrets as files (Docker secrets → ZDTRIAGE_ZENDESK__TOKEN_FILE / ZDTRIAGE_ANTHROPIC__API_KEY_FILE) or
# variables. State lives in the /state volume. See README, "Deploying it", and compose.yaml.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY integration ./integration
RUN python3 -m venv /opt/zdtriage \
 && /opt/zdtriage/bin/pip install --no-cache-dir --disable-pip-version-check . \
 && /opt/zdtriage/bin/zdtriage --version

FROM ${PYTHON_IMAGE}
# a fixed, unprivileged uid/gid: chown a bind-mounted /state or secret file to 10001
RUN groupadd --system --gid 10001 zdtriage \
 && useradd --system --uid 10001 --gid 10001 --home-dir /state --no-create-home --shell /usr/sbin/nologin zdtriage \
 && mkdir -p /state /app/config \
 && chown 10001:10001 /state \
 && chmod 0700 /state
COPY --from=build /opt/zdtriage /opt/zdtriage
ENV PATH=/opt/zdtriage/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ZDTRIAGE_STATE__PATH=/state/zdtriage.db \
    ZDTRIAGE_LOG_FORMAT=json
# the default config path config/zdtriage.toml is relative to this folder: mount the file there
WORKDIR /app
VOLUME ["/state"]
USER 10001:10001
# SIGTERM: the daemon finishes the stage it is running, then exits. The longest single call a stage
# can be in is an Anthropic batch create or results download (SDK timeout 600 s): give it 11 minutes
# (docker run --stop-timeout 660, compose stop_grace_period: 11m). A kill after that is safe: every
# state change is a transaction and an unsure batch create is settled through the batch list.
STOPSIGNAL SIGTERM
# exit 0 healthy, 1 not (stale stage, account refusal, batch near expiry), with one line saying why
HEALTHCHECK --interval=60s --timeout=30s --start-period=120s --retries=3 CMD ["zdtriage", "status", "--check"]
ENTRYPOINT ["zdtriage"]
CMD ["run"]
