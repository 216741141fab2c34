# crmbot: `crmbot run` (the bot, active or standing by) or `crmbot api` (the finance API).
#   docker build -t crmbot .
# docker-compose.yml runs both on PostgreSQL; deploy/config.toml is the config it mounts.

# Every dependency ships as a binary wheel (the R-tree library and the CJK font included),
# so the builder needs no compiler either; it only keeps pip and the sources out of the image.
FROM python:3.11-slim-trixie AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/crmbot
WORKDIR /src
COPY pyproject.toml README.md ./
COPY api api
COPY bootstrap bootstrap
COPY bot bot
COPY core core
COPY standin standin
COPY storage storage
COPY web web
# Photo watermarks and charts write names in Chinese: fail the build if the font is missing.
RUN /opt/crmbot/bin/pip install . \
    && /opt/crmbot/bin/python -c \
        "from noto_cjk_sans_jp_regular import FONT_PATH; assert FONT_PATH.is_file(), FONT_PATH"

FROM python:3.11-slim-trixie
ENV PATH=/opt/crmbot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# pg_dump and pg_restore for `crmbot backup`/`restore` and the nightly backup: Debian trixie's
# client (17) dumps the compose file's PostgreSQL 17.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 crmbot \
    && useradd --system --uid 10001 --gid crmbot --create-home --shell /usr/sbin/nologin crmbot \
    && install -d -o crmbot -g crmbot /data /data/photos /data/backups
COPY --from=build /opt/crmbot /opt/crmbot
USER crmbot
# matplotlib's font list, built once here rather than at the first chart of every container.
RUN python -c "import matplotlib.font_manager"
# From /, the defaults without a config (data/crm.db, data/photos) land in the volume too.
WORKDIR /
VOLUME ["/data"]
EXPOSE 8080 8081
# The bot's health listener ([health] port); `crmbot api` is checked on 8080 by compose.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8081/healthz', timeout=4)"]
ENTRYPOINT ["crmbot"]
CMD ["run", "--config", "/etc/crmbot/config.toml"]
