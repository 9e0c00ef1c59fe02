"""Core back: Core's API, served on 127.0.0.1:4000 and reached from outside as ``/.cial/api/*``."""
