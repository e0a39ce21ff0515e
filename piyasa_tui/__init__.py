"""piyasa terminal UI and command line (the UI itself is imported lazily)."""
