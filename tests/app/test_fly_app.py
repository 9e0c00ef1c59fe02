"""The App on the Fly driver, over the fake Machines API: a tenant from create to running, through
stop, start and delete, with the same API and admin pages as on any driver; and the settings that
select the driver."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from cial_app.errors import ConfigurationError
from cial_app.provisioning.wiring import build_orchestrator
from cial_app.settings import HealthVia, Settings

from testkit.fly_fake import FlyFake, fly_driver, unleased_mutations
from testkit.owner import Owner, act, create, history, sign_up, tenant

from .conftest import OWNER, Client, Running, run_app

FLY_ENV = {
    "CIAL_ORCHESTRATOR": "fly",
    "CIAL_FLY_TOKEN": "fo1_not-a-real-token",
    "CIAL_FLY_ORG": "acme-corp",
    "CIAL_FLY_REGION": "cdg",
}


@pytest.fixture
def fake() -> FlyFake:
    return FlyFake(token="fake-fly-token")


@pytest.fixture
async def on_fly(settings: Settings, fake: FlyFake) -> AsyncIterator[Running]:
    async with run_app(settings, orchestrator=fly_driver(fake)) as running:
        yield running


@pytest.fixture
async def owner_on_fly(on_fly: Running) -> Client:
    response = await sign_up(on_fly.client, Owner.of(OWNER))
    assert response.status_code == 200, response.text
    return on_fly.client


async def test_a_tenant_runs_stops_starts_and_is_deleted_on_fly(
    on_fly: Running, owner_on_fly: Client, fake: FlyFake
) -> None:
    client = owner_on_fly
    await create(client, "acme")
    await on_fly.settle()
    body = await tenant(client, "acme")
    assert body["state"] == "running", body
    app = f"cial-{body['id']}"
    [machine] = fake.machines(app)
    assert machine["state"] == "started"
    assert body["machine_id"] == f"{app}:{machine['id']}"
    page = await client.get("/admin")
    assert page.status_code == 200 and "acme" in page.text

    assert (await act(client, "acme", "stop")).status_code == 202
    await on_fly.settle()
    assert (await tenant(client, "acme"))["state"] == "stopped"
    assert fake.machines(app)[0]["state"] == "stopped"
    assert len(fake.volumes()) == 1

    assert (await act(client, "acme", "start")).status_code == 202
    await on_fly.settle()
    assert (await tenant(client, "acme"))["state"] == "running"
    assert [m["id"] for m in fake.machines(app)] == [machine["id"]]
    assert ("stopped", "starting") in await history(client, "acme")

    assert (await client.delete("/api/admin/tenants/acme")).status_code == 204
    await on_fly.settle()
    assert (await client.get("/api/admin/tenants/acme")).status_code == 404
    assert fake.apps == {}, "destroy leaves the tenant's Fly app, machine or volume behind"
    assert unleased_mutations(fake) == [] and fake.rate_limited == 0


async def test_a_reconciler_round_on_fly_sees_the_tenant_as_it_is(
    on_fly: Running, owner_on_fly: Client, fake: FlyFake
) -> None:
    await create(owner_on_fly, "acme")
    await on_fly.settle()
    await on_fly.reconcile()
    assert (await tenant(owner_on_fly, "acme"))["state"] == "running"
    assert len(fake.machines()) == 1


class TestSettings:
    def test_fly_is_selected_with_its_settings(self) -> None:
        settings = Settings.from_env(FLY_ENV)
        assert (settings.orchestrator, settings.fly_org, settings.fly_region) == ("fly", "acme-corp", "cdg")
        assert settings.health_via is HealthVia.UPSTREAM  # nothing is published on our loopback
        assert "fo1_" not in repr(settings)

    async def test_the_wiring_builds_the_fly_driver(self) -> None:
        driver = build_orchestrator(Settings.from_env(FLY_ENV))
        try:
            assert driver.driver == "fly"
        finally:
            await driver.aclose()

    @pytest.mark.parametrize(
        ("missing", "words"),
        [
            ("CIAL_FLY_TOKEN", "needs CIAL_FLY_TOKEN"),
            ("CIAL_FLY_ORG", "needs CIAL_FLY_ORG"),
            ("CIAL_FLY_REGION", "needs CIAL_FLY_REGION"),
        ],
    )
    def test_a_missing_setting_is_named(self, missing: str, words: str) -> None:
        env = {k: v for k, v in FLY_ENV.items() if k != missing}
        with pytest.raises(ConfigurationError, match=words):
            Settings.from_env(env)

    def test_published_health_checks_are_refused_on_fly(self) -> None:
        with pytest.raises(ConfigurationError, match="publishes no port"):
            Settings.from_env({**FLY_ENV, "CIAL_TENANT_HEALTH_VIA": "published"})
