"""The admin's tenant pages from L3 on: the list follows state changes (with a small script; the
page is complete without it) and shows ports; a tenant's page has Stop / Start / Restart / Delete
as CSRF-protected forms that work without JavaScript, and shows the tenant's log lines and events.
From L5 a running tenant has an Open link (SSO); one that is not running says why not."""

from __future__ import annotations

import re

from cial_app.settings import Settings

from testkit.owner import Owner, act, create, sign_up, tenant

from .conftest import (
    OWNER,
    SAME_ORIGIN,
    Client,
    Running,
    form_token,
    post_form,
    run_app,
    running_tenant,
    with_,
)


class TestTenantList:
    async def test_a_running_tenant_shows_its_state_and_a_link_to_its_port(
        self, running: Running, owner: Client
    ) -> None:
        body = await running_tenant(running, owner)
        page = (await owner.get("/admin")).text
        row = re.search(r'<tr data-slug="acme".*?</tr>', page, re.S)
        assert row is not None
        assert 'class="state state-running"' in row.group(0)
        port = body["published_port"]
        assert f'<a href="http://127.0.0.1:{port}/">{port}</a>' in row.group(0)

    async def test_a_tenant_in_error_shows_why_in_the_list(self, running: Running, owner: Client) -> None:
        running.engine.unhealthy["acme"] = "connection refused"
        await create(owner, "acme")
        await running.settle()
        page = (await owner.get("/admin")).text
        assert "state-error" in page
        assert "connection refused" in page

    async def test_the_list_loads_the_script_that_keeps_it_current(self, owner: Client) -> None:
        page = (await owner.get("/admin")).text
        assert '<script src="/admin/static/admin.js" defer></script>' in page
        assert 'data-poll="/api/admin/tenants"' in page
        script = await owner.get("/admin/static/admin.js")
        assert script.status_code == 200
        assert "javascript" in script.headers["content-type"]
        assert "/api/admin/tenants" in script.text or "dataset.poll" in script.text

    async def test_an_empty_list_says_so_and_hides_the_table_until_a_tenant_appears(
        self, owner: Client
    ) -> None:
        page = (await owner.get("/admin")).text
        assert '<p class="muted" id="no-tenants">No tenants yet.</p>' in page
        assert re.search(r'<table id="tenants"[^>]* hidden>', page)


class TestTenantPage:
    async def test_it_has_the_four_actions_as_forms_with_a_csrf_token(
        self, running: Running, owner: Client
    ) -> None:
        await running_tenant(running, owner)
        page = await owner.get("/admin/tenants/acme")
        token = form_token(page)
        for verb in ("start", "stop", "restart", "delete"):
            form = re.search(
                rf'<form method="post" action="/admin/tenants/acme/{verb}".*?</form>', page.text, re.S
            )
            assert form is not None, verb
            assert f'name="csrf_token" value="{token}"' in form.group(0)

    async def test_actions_the_state_forbids_are_shown_disabled(
        self, running: Running, owner: Client
    ) -> None:
        gate = running.engine.hold("create")
        await create(owner, "acme")
        page = (await owner.get("/admin/tenants/acme")).text
        for verb in ("start", "stop", "restart"):
            form = re.search(rf'action="/admin/tenants/acme/{verb}".*?</form>', page, re.S)
            assert form is not None
            assert "disabled" in form.group(0), verb
        gate.open()
        await running.settle()

    async def test_it_shows_the_recent_log_lines_and_events(self, running: Running, owner: Client) -> None:
        await running_tenant(running, owner)
        page = (await owner.get("/admin/tenants/acme")).text
        logs = re.search(r'<pre id="logs">(.*?)</pre>', page, re.S)
        assert logs is not None
        assert "cial-tenant-acme" in logs.group(1)
        assert "answered /.cial/api/healthz" in page

    async def test_without_a_container_it_says_why_there_are_no_logs(
        self, running: Running, owner: Client
    ) -> None:
        running.engine.engine_up = False
        await create(owner, "acme")
        await running.settle()
        page = (await owner.get("/admin/tenants/acme")).text
        assert 'id="logs-note"' in page
        assert "cannot be read now" in page


class TestActionForms:
    async def test_the_stop_form_stops_the_tenant_and_comes_back_to_its_page(
        self, running: Running, owner: Client
    ) -> None:
        await running_tenant(running, owner)
        response = await post_form(owner, "/admin/tenants/acme/stop", {}, token_from="/admin/tenants/acme")
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/tenants/acme?done=stop"
        await running.settle()
        assert (await tenant(owner, "acme"))["state"] == "stopped"
        page = (await owner.get(response.headers["location"])).text
        assert "Stopping: its data stays in its volume." in page

    async def test_start_and_restart_forms_work_too(self, running: Running, owner: Client) -> None:
        await running_tenant(running, owner)
        await act(owner, "acme", "stop")
        await running.settle()
        for verb in ("start", "restart"):
            response = await post_form(
                owner, f"/admin/tenants/acme/{verb}", {}, token_from="/admin/tenants/acme"
            )
            assert response.status_code == 303
            await running.settle()
            assert (await tenant(owner, "acme"))["state"] == "running"

    async def test_a_form_without_its_token_is_refused(self, running: Running, owner: Client) -> None:
        await running_tenant(running, owner)
        response = await owner.post(
            "/admin/tenants/acme/stop", data={"csrf_token": "forged"}, headers=SAME_ORIGIN
        )
        assert response.status_code == 403
        assert (await tenant(owner, "acme"))["state"] == "running"

    async def test_an_action_the_state_forbids_shows_the_reason_on_the_page(
        self, running: Running, owner: Client
    ) -> None:
        gate = running.engine.hold("create")
        await create(owner, "acme")
        response = await post_form(owner, "/admin/tenants/acme/start", {}, token_from="/admin/tenants/acme")
        assert response.status_code == 409
        assert 'role="alert"' in response.text
        assert "still being provisioned" in response.text
        gate.open()
        await running.settle()

    async def test_a_repeated_action_says_there_was_nothing_to_do(
        self, running: Running, owner: Client
    ) -> None:
        await running_tenant(running, owner)
        response = await post_form(owner, "/admin/tenants/acme/start", {}, token_from="/admin/tenants/acme")
        assert response.headers["location"] == "/admin/tenants/acme?done=noop"

    async def test_an_unknown_action_is_404(self, running: Running, owner: Client) -> None:
        await running_tenant(running, owner)
        response = await post_form(owner, "/admin/tenants/acme/explode", {}, token_from="/admin/tenants/acme")
        assert response.status_code == 404


class TestDeleteForm:
    async def test_delete_needs_the_slug_typed_to_confirm(self, running: Running, owner: Client) -> None:
        await running_tenant(running, owner)
        response = await post_form(
            owner, "/admin/tenants/acme/delete", {"confirm": "acm"}, token_from="/admin/tenants/acme"
        )
        assert response.status_code == 400
        assert 'id="confirm-error"' in response.text
        assert "Type acme to confirm" in response.text
        assert (await tenant(owner, "acme"))["state"] == "running"

    async def test_a_confirmed_delete_removes_the_tenant_and_says_so_on_the_list(
        self, running: Running, owner: Client
    ) -> None:
        body = await running_tenant(running, owner)
        response = await post_form(
            owner, "/admin/tenants/acme/delete", {"confirm": "acme"}, token_from="/admin/tenants/acme"
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/admin?deleted=acme"
        page = (await owner.get("/admin?deleted=acme")).text
        assert "Tenant &#39;acme&#39; deleted" in page or "Tenant 'acme' deleted" in page
        assert 'data-slug="acme"' not in page
        assert await running.engine.machines_of(body["id"]) == []


OPEN_LINK = '<a class="button" href="/api/admin/tenants/acme/open" rel="noreferrer">Open</a>'


class TestOpenLink:
    async def test_a_running_tenants_page_has_the_open_link(self, running: Running, owner: Client) -> None:
        await running_tenant(running, owner)
        page = (await owner.get("/admin/tenants/acme")).text
        assert OPEN_LINK in page
        assert page.count(">Open</a>") == 1  # the one link the browser spec clicks by name
        assert "Open is unavailable" not in page

    async def test_the_link_lands_on_the_open_redirect(self, running: Running, owner: Client) -> None:
        await running_tenant(running, owner)
        page = (await owner.get("/admin/tenants/acme")).text
        href = re.search(r'<a class="button" href="([^"]+)" rel="noreferrer">Open</a>', page)
        assert href is not None
        followed = await owner.get(href.group(1), headers={"Accept": "text/html"})
        assert followed.status_code == 303
        assert followed.headers["location"].startswith("http://acme.localhost:8080/.cial/sso?token=")

    async def test_a_stopped_tenant_says_why_it_cannot_be_opened_instead(
        self, running: Running, owner: Client
    ) -> None:
        await running_tenant(running, owner)
        await act(owner, "acme", "stop")
        await running.settle()
        page = (await owner.get("/admin/tenants/acme")).text
        assert ">Open</a>" not in page
        assert (
            '<span class="muted" id="open-unavailable">Open is unavailable: the tenant is stopped; '
            "start it and wait until it is running.</span>"
        ) in page

    async def test_a_tenant_coming_up_has_no_link_until_it_runs(
        self, running: Running, owner: Client
    ) -> None:
        gate = running.engine.hold("create")
        await create(owner, "acme")
        page = (await owner.get("/admin/tenants/acme")).text
        assert ">Open</a>" not in page
        assert "is still being provisioned; wait until it is running" in page
        # The page reloads itself when the state it shows changes (admin.js): Open then appears.
        assert 'data-shown="provisioning|' in page
        gate.open()
        await running.settle()
        assert OPEN_LINK in (await owner.get("/admin/tenants/acme")).text

    async def test_without_the_master_secret_the_page_says_sso_is_not_configured(
        self, settings: Settings
    ) -> None:
        async with run_app(with_(settings, sso_secret=None)) as app:
            await sign_up(app.client, Owner.of(OWNER))
            await running_tenant(app, app.client)
            page = (await app.client.get("/admin/tenants/acme")).text
            assert ">Open</a>" not in page
            assert "Open is unavailable: SSO is not configured (CIAL_SSO_SECRET)." in page
            assert ">Open</a>" not in (await app.client.get("/admin")).text

    async def test_the_list_has_an_open_link_for_each_running_tenant(
        self, running: Running, owner: Client
    ) -> None:
        await running_tenant(running, owner, "acme")
        gate = running.engine.hold("create")
        await create(owner, "globex")
        page = (await owner.get("/admin")).text
        assert '<a class="open" href="/api/admin/tenants/acme/open" rel="noreferrer">Open</a>' in page
        assert "/api/admin/tenants/globex/open" not in page
        assert 'data-sso="on"' in page
        gate.open()
        await running.settle()

    async def test_the_script_adds_the_open_link_when_a_row_becomes_running(self, owner: Client) -> None:
        script = (await owner.get("/admin/static/admin.js")).text
        assert '"/open"' in script and 'rel = "noreferrer"' in script
