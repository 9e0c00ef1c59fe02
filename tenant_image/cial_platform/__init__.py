"""The tenant's own surfaces, run as ``agent`` from /opt/cial-platform with a virtualenv of their own.

Nothing here imports Core (``cial_core``): Core's code is not readable by ``agent`` at all.
"""
