"""Core front: Core's pages, served on 127.0.0.1:4001 under the base path ``/.cial``."""
