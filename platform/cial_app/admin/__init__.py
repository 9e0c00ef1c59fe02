"""The owner's admin: server-rendered pages with plain forms, usable without JavaScript."""
