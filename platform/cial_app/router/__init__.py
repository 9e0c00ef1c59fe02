"""The router on :8080: `{slug}.localhost` reaches its tenant's edge.

Three nouns, kept apart: `table` (a pure host -> tenant map, no I/O), `feed` (keeps the table in
step with the database: a full load, then the store's change notifications, with a periodic
reload as the fallback), and `main` (the process: the proxy engine, metrics, settings). The
router imports neither the web framework nor the ORM: it reads Postgres with asyncpg.
"""
