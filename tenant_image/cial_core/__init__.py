"""Cial Core inside the tenant container: supervisor, edge, core back and core front.

Installed under /opt/cial-core (owner ``cial``, mode 0700) so the ``agent`` user never reads it.
"""
