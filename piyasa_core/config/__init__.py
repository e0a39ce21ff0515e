"""Configuration: `config.toml` + `.env` + environment + flags, validated, secrets masked."""

from piyasa_core.config.loader import Change, Config, diff_configs, load_config
from piyasa_core.config.schema import PROVIDER_NAMES, BotConfig, ChatConfig, Settings

__all__ = ["PROVIDER_NAMES", "BotConfig", "ChatConfig", "Change", "Config", "Settings", "diff_configs",
           "load_config"]
