"""Settings: command-line flag > environment variable > TOML file > default.

Every option has a flag ``--some-option``, an environment variable
``REPO_ASSISTANT_SOME_OPTION`` (lists comma-separated) and a TOML key ``some_option``
(lists as TOML arrays) in the config file: the one ``--config`` (or ``REPO_ASSISTANT_CONFIG``)
names, else the user's own ``<user config dir>/repo-assistant/config.toml`` if it exists. Never a
file found in the working directory or a repository: the quick start runs inside a repository,
and a cloned repository must not be able to choose the bind address, the origins, the keys or
the model server.
``OLLAMA_HOST`` is honoured in the environment tier, after ``REPO_ASSISTANT_OLLAMA_URL``.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import urlsplit

import platformdirs

log = logging.getLogger("assistant.settings")

ENV_PREFIX = "REPO_ASSISTANT_"
LOCAL_CONFIG = "repo-assistant.toml"  # read by earlier versions from the working directory; now ignored


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names it and what is allowed."""


@dataclass(frozen=True)
class Settings:
    """Everything the server and the CLI commands are configured with."""

    host: str = "127.0.0.1"
    port: int = 3000
    repo: tuple[str, ...] = ()
    backend: str = "ollama"
    ollama_url: str = "http://127.0.0.1:11434"
    base_url: str | None = None
    backend_api_key: str | None = None
    model: str | None = None
    api_key: str | None = None
    allow_origin: tuple[str, ...] = ()
    allow_host: tuple[str, ...] = ()
    max_concurrent_chats: int = 16
    keepalive_seconds: float = 15.0
    max_rounds: int = 8
    map_tokens: int = 1024
    context_tokens: int = 2048
    connect_timeout: float = 5.0
    first_token_timeout: float = 300.0
    chunk_timeout: float = 120.0
    request_timeout: float = 10.0
    answer_timeout: float = 900.0
    log_level: str = "info"
    insecure: bool = False
    cache_dir: str | None = None
    data_dir: str | None = None
    open_mode: str = "auto"
    watch: str = "inotify"
    metrics: str = "on"
    heartbeat_seconds: float = 15.0  # the event stream's heartbeat (env or TOML only)
    index_on_start: bool = False  # every root indexed at start (else the first, the rest when used)
    max_body_bytes: int = 1024 * 1024

    @property
    def repos(self) -> tuple[str, ...]:
        return self.repo or (os.getcwd(),)

    def with_overrides(self, **values: Any) -> Settings:
        return replace(self, **values)


MAX_MAP_TOKENS = 16384
MAX_CONTEXT_TOKENS = 32768

_LIST_FIELDS = {"repo", "allow_origin", "allow_host"}
_LOG_LEVELS = ("debug", "info", "warning", "error")
_CHOICES = {
    "backend": ("ollama", "openai"),
    "log_level": _LOG_LEVELS,
    "open_mode": ("auto", "openat2", "walk"),
    "watch": ("inotify", "sweep"),
    "metrics": ("on", "off"),
}


def normalise_ollama_url(value: str) -> str:
    """Accept what Ollama's own client accepts: ``host``, ``host:port``, ``0.0.0.0``, URLs."""
    value = value.strip()
    if "://" not in value:
        value = "http://" + value
    parts = urlsplit(value)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "https" and ":" not in parts.netloc else 11434)
    if ":" in host:
        host = f"[{host}]"
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{host}:{port}{path}"


def _convert(name: str, raw: Any, source: str) -> Any:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    try:
        if name in _LIST_FIELDS:
            if isinstance(raw, str):
                items = [item.strip() for item in raw.split(",")]
            elif isinstance(raw, (list, tuple)):
                items = [str(item) for item in raw]
            else:
                raise TypeError
            return tuple(item for item in items if item)
        if kind == "int":
            if isinstance(raw, bool):
                raise TypeError
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError
        return None if raw is None else str(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"{source}: {raw!r} is not a valid value for {name}") from None


def _read_toml(path: str, explicit: bool) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        if explicit:
            raise SettingsError(f"config file {path} does not exist") from None
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None


def user_config_file(environ: Mapping[str, str]) -> str:
    """The user's own config file (it need not exist): ``$XDG_CONFIG_HOME/repo-assistant/config.toml``
    where that variable is set, else platformdirs' user config directory."""
    base = environ.get("XDG_CONFIG_HOME") or platformdirs.user_config_dir()
    return os.path.join(base, "repo-assistant", "config.toml")


def warn_about_local_config(used: str | None) -> None:
    """Say once that ``./repo-assistant.toml`` is not read, when there is one and it was not named."""
    if os.path.isfile(LOCAL_CONFIG) and (used is None or not os.path.samefile(used, LOCAL_CONFIG)):
        log.warning(
            "ignoring ./%s: a config file in the working directory could come from a cloned repository, "
            "so it is read only when named with --config (the user config file is %s)",
            LOCAL_CONFIG,
            user_config_file(os.environ),
        )


def load_settings(
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config: str | None = None,
) -> Settings:
    """Merge the four tiers into one frozen ``Settings``.

    Args:
        flags: options given on the command line (``None`` values mean "not given").
        environ: the environment (defaults to ``os.environ``).
        config: the TOML file; ``None`` means ``REPO_ASSISTANT_CONFIG``, else the user's own
            config file if it exists (never one in the working directory).
    """
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    environ = os.environ if environ is None else environ
    named = config or environ.get(ENV_PREFIX + "CONFIG")
    config_path = named or user_config_file(environ)
    file_values = _read_toml(config_path, explicit=bool(named))
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(file_values) - known)
    if unknown:
        raise SettingsError(f"config file {config_path}: unknown key(s) {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name in known:
        env_name = ENV_PREFIX + name.upper()
        if name in flags:
            values[name] = _convert(name, flags[name], f"--{name.replace('_', '-')}")
        elif env_name in environ:
            values[name] = _convert(name, environ[env_name], env_name)
        elif name == "ollama_url" and "OLLAMA_HOST" in environ:
            values[name] = environ["OLLAMA_HOST"]
        elif name in file_values:
            values[name] = _convert(name, file_values[name], f"{config_path}: {name}")
    settings = Settings(**values)
    return _validate(settings)


def _validate(settings: Settings) -> Settings:
    for name, allowed in _CHOICES.items():
        value = getattr(settings, name)
        if value not in allowed:
            raise SettingsError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    if not 0 < settings.port < 65536:
        raise SettingsError(f"port must be 1-65535, not {settings.port}")
    if settings.max_concurrent_chats < 1:
        raise SettingsError("max_concurrent_chats must be at least 1")
    if settings.keepalive_seconds <= 0:
        raise SettingsError("keepalive_seconds must be positive")
    for name in ("connect_timeout", "first_token_timeout", "chunk_timeout", "request_timeout", "answer_timeout"):
        if getattr(settings, name) <= 0:
            raise SettingsError(f"{name} must be positive")
    if settings.max_rounds < 1:
        raise SettingsError("max_rounds must be at least 1")
    if not 0 <= settings.map_tokens <= MAX_MAP_TOKENS:
        raise SettingsError(f"map_tokens must be 0 (no map) to {MAX_MAP_TOKENS}")
    if not 0 <= settings.context_tokens <= MAX_CONTEXT_TOKENS:
        raise SettingsError(f"context_tokens must be 0 (no code before the first round) to {MAX_CONTEXT_TOKENS}")
    if "*" in settings.allow_origin and settings.api_key:
        raise SettingsError("--allow-origin '*' cannot be combined with --api-key; name the origins")
    if settings.backend == "openai" and not settings.base_url:
        raise SettingsError("--backend openai needs --base-url (e.g. http://127.0.0.1:8080/v1)")
    return replace(settings, ollama_url=normalise_ollama_url(settings.ollama_url))


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` keeps the server on this machine."""
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(settings: Settings) -> None:
    """Refuse a non-loopback bind without an API key unless ``--insecure``."""
    if not is_loopback(settings.host) and not settings.api_key and not settings.insecure:
        raise SettingsError(
            f"refusing to listen on {settings.host} without --api-key: anyone on the network "
            "could read your repositories. Set --api-key, or pass --insecure to accept the risk."
        )
