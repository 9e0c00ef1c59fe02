"""Core front: Core's pages, served on a unix socket in /run/cial-core under the base path ``/.cial``."""
