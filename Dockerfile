# FinSync: the one image shared by the three statement services and the aggregator.
# docker-compose.yml runs it four times with different commands; the thin Dockerfiles in
# data_sources/<statement>/ and aggregator/ build on it to bake in one default command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    FINSYNC_DATA_DIR=/data/db \
    FINSYNC_OUTPUT_DIR=/data/output

WORKDIR /app

# Dependencies first, so code changes do not reinstall them.
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY config.json ./
COPY data_sources ./data_sources
COPY aggregator ./aggregator
COPY frontend ./frontend

# An unprivileged user owns the volume mount points (new named volumes copy this).
RUN useradd --system --no-create-home --home-dir /app --uid 10001 finsync \
    && mkdir -p /data/db /data/output \
    && chown -R finsync /data
USER finsync

EXPOSE 5001 5002 5003 8000

# A statement container creates its database from the sample data when its volume
# has none yet, then hands PID 1 to the command (gunicorn) so signals reach it.
ENTRYPOINT ["/bin/sh", "-c", "if [ -n \"$FINSYNC_STATEMENT\" ] && [ ! -f \"$FINSYNC_DATA_DIR/$FINSYNC_STATEMENT.db\" ]; then python -m data_sources.init_db --data-dir \"$FINSYNC_DATA_DIR\" || exit 1; fi; exec \"$@\"", "finsync-entrypoint"]

CMD ["python", "-m", "gunicorn", "--config", "aggregator/gunicorn.conf.py", "--bind", "0.0.0.0:8000", "aggregator.app:create_app()"]
