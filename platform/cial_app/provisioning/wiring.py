"""The provisioning runtime of one App, built from its Settings: which driver, the machine recipe,
how a tenant's health is checked, and the start and stop of the background work."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cial_app.orchestrator import (
    Machine,
    MachineTemplate,
    NoAddress,
    Orchestrator,
    get_orchestrator,
    health_url,
    wait_healthy,
)
from cial_app.provisioning.actions import OwnerActions
from cial_app.provisioning.backoff import Backoff
from cial_app.provisioning.reconcile_loop import ReconcileLoop
from cial_app.provisioning.repairs import Repairs
from cial_app.provisioning.start_slots import StartSlots, default_start_slots
from cial_app.provisioning.work import HealthProbe, MachineEnv, TenantWork
from cial_app.settings import HealthVia, Settings
from cial_app.sso.handover import sso_env
from cial_app.tenants.store import TenantRecord, TenantStore

# How long shutdown waits for tenant jobs to let their engine calls finish.
SHUTDOWN_GRACE_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Provisioning:
    work: TenantWork
    actions: OwnerActions
    repairs: Repairs
    loop: ReconcileLoop

    @property
    def orchestrator(self) -> Orchestrator:
        return self.work.orchestrator

    async def start(self) -> None:
        """Start the reconcile loop; its first round runs at once, in the background, so an
        unreachable engine never holds up the App's start."""
        self.loop.start()

    async def aclose(self) -> None:
        await self.loop.aclose()
        await self.work.jobs.aclose(SHUTDOWN_GRACE_SECONDS)
        await self.orchestrator.aclose()


def build_orchestrator(settings: Settings) -> Orchestrator:
    options: dict[str, Any] = {}
    if settings.orchestrator == "docker":
        options["instance"] = settings.instance
        options["subnet_pool"] = settings.tenant_subnet_pool
    elif settings.orchestrator == "remote":
        options["url"] = settings.orchestrator_url
        options["token"] = settings.orchestrator_token
    elif settings.orchestrator == "fly":
        options.update(
            url=settings.fly_api_url,
            token=settings.fly_token,
            org=settings.fly_org,
            region=settings.fly_region,
            instance=settings.instance,
            app_prefix=settings.fly_app_prefix,
        )
    return get_orchestrator(settings.orchestrator, **options)


def machine_template(settings: Settings) -> MachineTemplate:
    return MachineTemplate(
        image=settings.tenant_image,
        memory_bytes=settings.tenant_memory_bytes,
        cpus=settings.tenant_cpus,
        pids_limit=settings.tenant_pids_limit,
        network=settings.docker_network,
    )


def machine_env(settings: Settings) -> MachineEnv:
    """Each tenant's own environment: its SSO key derived from the master secret (never the
    secret itself), the issuer to expect and the admin's URL (docs/sso-contract.md)."""

    def env_of(tenant: TenantRecord) -> Mapping[str, str]:
        return sso_env(settings.sso_secret, str(tenant.id), settings.admin_url)

    return env_of


def health_probe(settings: Settings, orchestrator: Orchestrator) -> HealthProbe:
    async def probe(machine: Machine) -> float:
        via = settings.health_via
        endpoint = machine.published if via is HealthVia.PUBLISHED else machine.upstream
        if endpoint is None:
            name = machine.slug or machine.tenant_id
            wanted = "published" if via is HealthVia.PUBLISHED else "upstream"
            raise NoAddress(f"tenant {name} has no {wanted} address (state {machine.state})")
        url = health_url(endpoint)
        if via is HealthVia.ROUTER:
            # The router dials the upstream for us: only it shares a network with the tenant.
            url = f"{settings.router_control_url}/probe?upstream={endpoint}"
        return await wait_healthy(
            machine, url, deadline=settings.health_deadline_seconds, orchestrator=orchestrator
        )

    return probe


def build_provisioning(
    settings: Settings,
    store: TenantStore,
    *,
    orchestrator: Orchestrator | None = None,
    health: HealthProbe | None = None,
) -> Provisioning:
    """`orchestrator` and `health` replace the driver named in settings and the HTTP health
    check (tests run the App against an in-memory engine)."""
    engine = orchestrator or build_orchestrator(settings)
    work = TenantWork(
        store,
        engine,
        machine_template(settings),
        health or health_probe(settings, engine),
        backoff=Backoff(first=settings.reconcile_interval_seconds),
        machine_env=machine_env(settings),
        start_slots=StartSlots(settings.max_parallel_starts or default_start_slots()),
    )
    repairs = Repairs(work)
    loop = ReconcileLoop(store, engine, repairs, interval=settings.reconcile_interval_seconds)
    return Provisioning(work=work, actions=OwnerActions(work), repairs=repairs, loop=loop)
