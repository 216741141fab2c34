"""[web]: where `crmbot web` serves the Mini App, the address Telegram opens, and its limits."""

from __future__ import annotations

from pydantic import Field, field_validator

from core.config import Section

WEB_PORT_ENV = "CRMBOT_WEB_PORT"
PATH = "/app/"


class WebConfig(Section):
    listen: str = "127.0.0.1"
    port: int = Field(default=8090, ge=1, le=65535)
    # The HTTPS address Telegram opens, ending in /app/ (behind the reverse proxy that also
    # serves the webhook). Empty: the bot offers no dashboard buttons.
    public_url: str = ""
    # Init data older than this is refused: the person opens the Mini App again.
    max_age_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    # Map tiles: an {z}/{x}/{y} URL template; empty shows no map (the list stays).
    tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    tile_attribution: str = "© OpenStreetMap contributors"
    # JSON calls one member may make a minute, in each web process.
    requests_per_minute: int = Field(default=240, ge=10, le=100_000)

    @field_validator("public_url")
    @classmethod
    def _https(cls, value: str) -> str:
        if value and not value.startswith("https://"):
            raise ValueError("must start with https:// (Telegram opens Mini Apps over HTTPS "
                             "only)")
        if value and not value.endswith(PATH):
            raise ValueError(f"must end with {PATH} (where `crmbot web` serves the page)")
        return value

    @field_validator("tile_url")
    @classmethod
    def _tiles(cls, value: str) -> str:
        if value and not (value.startswith(("https://", "http://"))
                          and all(f"{{{part}}}" in value for part in "zxy")):
            raise ValueError("must be an http(s) URL with {z}, {x} and {y}, or empty")
        return value

    @property
    def tile_origin(self) -> str:
        """The tiles' scheme and host, for the page's Content-Security-Policy."""
        if not self.tile_url:
            return ""
        scheme, _, rest = self.tile_url.partition("://")
        host = rest.split("/", 1)[0].replace("{s}", "*")
        return f"{scheme}://{host}"
