"""The benchmark: one runner (TUI key `b`, `POST /benchmark`, `piyasa-tui bench`), measures taken from
the database and the supervisor's snapshots, criteria from `[benchmark]`, reports and a timeline."""
