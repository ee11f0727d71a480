"""Settings of a vth-sensing deployment, from environment variables or a TOML file.

Environment variables start with ``VTH_`` (``VTH_BROKER_URL``, ``VTH_DATABASE_URL``, ...).
A TOML file named by ``VTH_CONFIG`` (or passed as ``--config``) gives the same fields;
environment variables win over the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from vth.hosts import is_tls_broker_url


class Settings(BaseSettings):
    """Configuration of the service (API, gateway and detection loop)."""

    model_config = SettingsConfigDict(env_prefix="VTH_", extra="forbid")

    profiles_dir: Path = Field(
        default=Path("examples/profiles"), description="Directory of MBA profile YAML files."
    )
    networks_dir: Path | None = Field(
        default=None,
        description=(
            "Directory of sensor network YAML files (public e-noses, weather stations); "
            "default: the 'networks' folder of profiles_dir when there is one."
        ),
    )
    detector_params_file: Path | None = Field(
        default=None,
        description=(
            "YAML file of detector parameters (detector name -> parameters), e.g. written by "
            "'vth backtest --save-params'; detectors named there run with them, opt-in ones too."
        ),
    )
    network_fit_history_h: float = Field(
        default=6.0,
        gt=0,
        description=(
            "Hours of buffered network data before an unfitted e-nose detector fits itself "
            "on them (a detector fitted on an archive starts at once)."
        ),
    )
    network_refit_h: float = Field(
        default=24.0, gt=0, description="Hours between refits of a self-fitted e-nose detector."
    )
    database_url: str = Field(
        default="sqlite:///var/vth.db", description="SQLAlchemy URL of the alert store."
    )
    api_keys_file: Path | None = Field(
        default=None,
        description=(
            "YAML file of API keys (digests) with roles and agencies ('vth keys new'); "
            "unset: the API is open, which 'vth serve' allows on a loopback address only."
        ),
    )
    map_tile_url: str | None = Field(
        default=None,
        description=(
            "Tile URL template of the inspector page's base map, e.g. a PDOK BRT "
            "achtergrondkaart WMTS URL with {z}/{x}/{y}; unset: no base map (no network)."
        ),
    )
    inventory_file: Path | None = Field(
        default=None,
        description=(
            "The agency's technology catalogue (YAML, like vth/inventory/catalogue.yaml); "
            "unset: the catalogue shipped with the toolkit."
        ),
    )
    workflow_file: Path | None = Field(
        default=None,
        description=(
            "YAML file of the inspection workflow: incident quiet periods, LHSO rules, "
            "webhooks and the ZGW Zaken API to forward alerts to, retries."
        ),
    )
    broker_url: str | None = Field(
        default=None,
        description="mqtt://host:port or mqtts://host:port; unset starts the embedded broker.",
    )
    # the password before the user name: the user name's validator checks that both are set
    mqtt_password: SecretStr | None = Field(
        default=None, description="Password of mqtt_username; never logged or shown."
    )
    mqtt_username: str | None = Field(
        default=None,
        validate_default=True,
        description="User name for brokers that require a login.",
    )
    mqtt_client_id: str = "vth-gateway"
    mqtt_protocol: str = Field(default="3.1.1", description="'3.1.1' or '5'.")
    mqtt_ca_file: Path | None = Field(
        default=None,
        description=(
            "CA bundle (PEM) the mqtts:// broker's certificate must be signed by; "
            "unset: the system's CA certificates. The host name is always verified."
        ),
    )
    mqtt_cert_file: Path | None = Field(
        default=None,
        description="Client certificate (PEM) for mqtts:// brokers that require one (mutual TLS).",
    )
    mqtt_key_file: Path | None = Field(
        default=None,
        validate_default=True,
        description="Unencrypted private key (PEM) of mqtt_cert_file; set both or neither.",
    )
    topic_template: str = Field(default="vth/{mba_id}/{sensor_id}")
    embedded_broker_port: int = Field(
        default=1883, ge=0, le=65535, description="0 picks a free port."
    )
    raster_topic_template: str = Field(
        default="vth/rasters/{platform}",
        description="Topics of satellite and drone images (GeoTIFF bytes or STAC Items).",
    )
    local_crs: str = Field(
        default="EPSG:28992",
        description="Local grid images are reprojected to before detection (RD New).",
    )
    raster_spool_dir: Path | None = Field(
        default=Path("var/rasters"),
        description=(
            "Images are kept here from receipt until detection has run on them, and "
            "replayed after a restart; unset: memory only."
        ),
    )
    raster_max_bytes: int = Field(
        default=256 * 2**20, gt=0, description="Larger image messages are quarantined unread."
    )
    raster_band_roles: dict[str, list[str]] = Field(
        default_factory=dict,
        description=(
            "Per platform (the topic's last level), the band roles of images that do not "
            'name their bands, e.g. {"drone-7": ["thermal"]}.'
        ),
    )
    records_path: Path | None = Field(
        default=Path("var/records.jsonl"),
        description=(
            "JSON lines of what images showed within the permit (permitted flares, "
            "plumes below the permitted rate): recorded, not alerted; unset: not kept."
        ),
    )
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=0, le=65535)
    detect_interval_s: float = Field(default=5.0, gt=0)
    buffer_retention_h: float = Field(
        default=48.0, gt=0, description="Hours of samples kept in memory for detection."
    )
    max_future_s: float = Field(
        default=300.0, ge=0, description="Samples stamped further ahead than this are quarantined."
    )
    max_message_bytes: int = Field(
        default=1_048_576,
        gt=0,
        description="Larger sensor messages (SenML or plain JSON) are quarantined unread.",
    )
    quarantine_path: Path = Field(default=Path("var/quarantine.jsonl"))
    journal_archive_dir: Path | None = Field(
        default=Path("var/journal-archive"),
        description=(
            "Messages leaving the journal (older than the buffer retention) are kept here, "
            "one file per day, for 'vth archive import'; unset: they are dropped."
        ),
    )
    journal_path: Path | None = Field(
        default=Path("var/journal.jsonl"),
        description="Append-only journal of accepted messages, replayed on start; unset: off.",
    )

    @field_validator("mqtt_protocol")
    @classmethod
    def _protocol(cls, value: str) -> str:
        if value not in ("3.1.1", "5"):
            raise ValueError("mqtt_protocol must be '3.1.1' or '5'")
        return value

    # Field validators, not a model validator: a model validator's error would show the
    # whole input, the password included; these show only their own field's value.
    @field_validator("mqtt_username")
    @classmethod
    def _username(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("mqtt_password") is not None:
            raise ValueError("mqtt_password is set but mqtt_username is not")
        return value

    @field_validator("mqtt_ca_file", "mqtt_cert_file", "mqtt_key_file")
    @classmethod
    def _tls_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if (
            info.field_name == "mqtt_key_file"
            and "mqtt_cert_file" in info.data  # absent when it failed validation itself
            and (value is None) != (info.data["mqtt_cert_file"] is None)
        ):
            raise ValueError(
                "mqtt_cert_file and mqtt_key_file go together (a client certificate and "
                "its key): set both or neither"
            )
        if value is None:
            return value
        if not value.is_file():
            raise ValueError(f"no such file: {value}")
        if not is_tls_broker_url(info.data.get("broker_url") or ""):
            raise ValueError(f"{info.field_name} is for TLS: broker_url must be mqtts://host:port")
        return value

    @field_validator("topic_template")
    @classmethod
    def _template(cls, value: str) -> str:
        if "{mba_id}" not in value or "{sensor_id}" not in value:
            raise ValueError("topic_template must contain {mba_id} and {sensor_id}")
        return value

    @field_validator("raster_topic_template")
    @classmethod
    def _raster_template(cls, value: str) -> str:
        if value.count("{platform}") != 1:
            raise ValueError("raster_topic_template must contain {platform} once")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order: explicit arguments, environment, then the TOML file of ``VTH_CONFIG``."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = os.environ.get("VTH_CONFIG")
        if config:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config)))
        return tuple(sources)


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Settings from the environment, an optional TOML file and explicit overrides."""
    if config is not None:
        os.environ["VTH_CONFIG"] = str(config)
    return Settings(**overrides)
