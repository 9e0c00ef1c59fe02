"""Tenants on the orchestrator: background provisioning, the owner's lifecycle actions and the
reconciler loop that keeps the engine in step with the tenants table.

Depends on the orchestrator's interface only; which driver runs is a setting (`wiring`)."""

from __future__ import annotations

from cial_app.provisioning.jobs import JobKind, Jobs
from cial_app.provisioning.lifecycle import ActionResult, HealthProbe, Lifecycle, TenantLogs
from cial_app.provisioning.reconcile import Reconciler
from cial_app.provisioning.rules import StateForbids, Verb, Verdict, decide
from cial_app.provisioning.wiring import Provisioning, build_provisioning

__all__ = [
    "ActionResult",
    "HealthProbe",
    "JobKind",
    "Jobs",
    "Lifecycle",
    "Provisioning",
    "Reconciler",
    "StateForbids",
    "TenantLogs",
    "Verb",
    "Verdict",
    "build_provisioning",
    "decide",
]
