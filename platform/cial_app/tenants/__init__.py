"""Tenants: their rules, their rows and state log, and the service the web layer calls."""
