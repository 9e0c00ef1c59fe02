"""Cial's control plane (the plan's "App"): owner auth, the admin, and the tenants it runs.

Importing this package imports nothing else, so `cial_app.orchestrator` and `cial_app.router`
stay free of the web framework and the ORM.
"""
