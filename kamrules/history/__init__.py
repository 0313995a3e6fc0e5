"""Account reviews over time: the review store (SQLite or PostgreSQL), trend facts for rules,
looking back (history, diff, the portfolio since a date), overrides, replay, export/import."""
