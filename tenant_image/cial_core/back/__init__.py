"""Core back: Core's API, served on a unix socket in /run/cial-core and reached from outside as
``/.cial/api/*`` (and ``/.cial/sso``, ``/.cial/sign-out``)."""
