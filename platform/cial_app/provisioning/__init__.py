"""Tenants on the orchestrator, one module per job: the owner's actions (`actions`), the
reconciler's repairs (`repairs`) and its loop (`reconcile_loop`), the background engine work they
both start (`work`, run as `jobs`), and what a failure leaves on the tenant (`failures`).

Depends on the orchestrator's interface only; which driver runs is a setting (`wiring`)."""

from __future__ import annotations

from cial_app.provisioning.actions import ActionResult, OwnerActions, TenantLogs
from cial_app.provisioning.jobs import JobKind, Jobs
from cial_app.provisioning.reconcile_loop import ReconcileLoop
from cial_app.provisioning.repairs import Repairs
from cial_app.provisioning.rules import StateForbids, Verb, Verdict, allowed, decide
from cial_app.provisioning.wiring import Provisioning, build_provisioning
from cial_app.provisioning.work import HealthProbe, TenantWork

__all__ = [
    "ActionResult",
    "HealthProbe",
    "JobKind",
    "Jobs",
    "OwnerActions",
    "Provisioning",
    "ReconcileLoop",
    "Repairs",
    "StateForbids",
    "TenantLogs",
    "TenantWork",
    "Verb",
    "Verdict",
    "allowed",
    "build_provisioning",
    "decide",
]
