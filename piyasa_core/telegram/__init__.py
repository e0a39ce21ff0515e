"""Transports: the console transport (database + feed) and Telegram (python-telegram-bot)."""
