"""Worker processes and the supervisor that owns them."""
