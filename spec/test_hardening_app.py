"""Issue 12, item 1: the App serves browsers, so it must not hold the Docker socket (root on the
host). On the compose stack, an attacker with code execution in the App's container (played by
`docker exec` into app-api, running Python there with the App's own environment) finds no socket,
and the orchestrator service, which holds it, refuses everything but the tenant verbs of its own
recipe: no privileged container, no bind mount, no other image, no exec, no foreign container.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
import httpx
import pytest
from docker.models.containers import Container

from spec.containers import TENANT_IMAGE, ComposeStack
from testkit.docker_sweep import containers_of
from testkit.owner import Owner, create, signed_in, tenant
from testkit.polling import eventually

pytestmark = pytest.mark.docker

OWNER = Owner("Hana Hardening", "hardening@example.com")
UP = 90.0

# Runs inside the App's container as the App's user, with only what the App has: its environment
# and its network. Each attempt prints one JSON line: what was tried and the status it got.
ATTACKER = r"""
import json, os, sys, uuid
import httpx

url = os.environ["CIAL_ORCHESTRATOR_URL"]
token = os.environ["CIAL_ORCHESTRATOR_TOKEN"]  # what code running in the App can read
foreign_id, postgres_id = sys.argv[1], sys.argv[2]
results = {
    "socket": os.path.exists("/var/run/docker.sock"),
    "docker_host": os.environ.get("DOCKER_HOST"),
}
bearer = {"Authorization": f"Bearer {token}"}
victim = str(uuid.uuid4())
bad = "/tmp/x.so"  # a library agent code could drop in the tenant's /tmp
machine = f"/v1/tenants/{victim}/machine"
attempts = {
    # without the token
    "no_token_list": ("GET", "/v1/machines", {}, None),
    "no_token_create": ("POST", f"/v1/tenants/{victim}/machine", {}, {"slug": "evil"}),
    "wrong_token": ("GET", "/v1/machines", {"Authorization": "Bearer " + "0" * 64}, None),
    # the Docker Engine API itself, as a socket proxy would pass it
    "engine_create_privileged": ("POST", "/containers/create", bearer,
        {"Image": "cial-base:bookworm", "HostConfig": {"Privileged": True, "Binds": ["/:/host"]}}),
    "engine_versioned_create": ("POST", "/v1.41/containers/create", bearer, {"Image": "cial-base:bookworm"}),
    "engine_exec": ("POST", f"/containers/{postgres_id}/exec", bearer, {"Cmd": ["id"]}),
    # the tenant verb, asked for more than a tenant's id, slug and CIAL_* environment
    "create_privileged": ("POST", machine, bearer, {"slug": "evil", "privileged": True}),
    "create_bind_root": ("POST", machine, bearer, {"slug": "evil", "binds": ["/:/host"]}),
    "create_volume_root": ("POST", machine, bearer,
        {"slug": "evil", "volumes": {"/": {"bind": "/host", "mode": "rw"}}}),
    "create_other_image": ("POST", machine, bearer,
        {"slug": "evil", "image": "cial-base:bookworm"}),
    "create_cap_add": ("POST", machine, bearer, {"slug": "evil", "cap_add": ["SYS_ADMIN"]}),
    "create_ld_preload": ("POST", machine, bearer,
        {"slug": "evil", "env": {"LD_PRELOAD": bad}}),
    "create_identity": ("POST", machine, bearer,
        {"slug": "evil", "env": {"TENANT_ID": "someone-else"}}),
    "create_not_a_uuid": ("POST", "/v1/tenants/cial-app/machine", bearer, {"slug": "evil"}),
    # exec into a tenant, or anything else
    "exec_tenant": ("POST", f"/v1/tenants/{victim}/exec", bearer, {"cmd": ["sh"]}),
    "images": ("GET", "/v1/images", bearer, None),
    # another's container and the database's volume
    "remove_postgres": ("DELETE", f"/v1/machines/{postgres_id}", bearer, None),
    "remove_foreign_tenant": ("DELETE", f"/v1/machines/{foreign_id}", bearer, None),
    "remove_pgdata": ("DELETE", "/v1/volumes/pgdata", bearer, None),
    # what the App is for: tenant verbs of the fixed recipe
    "list": ("GET", "/v1/machines", bearer, None),
    "create_tenant": ("POST", machine, bearer, {"slug": "hardened", "env": {"CIAL_X": "1"}}),
}
with httpx.Client(base_url=url, timeout=60, trust_env=False) as client:
    for name, (method, path, headers, body) in attempts.items():
        response = client.request(method, path, headers=headers, json=body)
        try:
            answer = response.json()
        except ValueError:
            answer = response.text[:200]
        results[name] = {"status": response.status_code, "body": answer}
    # The router's control listener dials tenants only: it cannot be turned on the orchestrator.
    router = os.environ["CIAL_ROUTER_CONTROL_URL"]
    probe = client.get(f"{router}/probe", params={"upstream": "orchestrator:8090"})
    results["router_probe_orchestrator"] = {"status": probe.status_code, "body": probe.text}
results["victim"] = victim
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def app(stack: ComposeStack) -> ComposeStack:
    stack.fresh()
    signed_in(stack.app_url, OWNER, setup_token=stack.setup_token).close()
    return stack


def service(engine: docker.DockerClient, stack: ComposeStack, name: str) -> Container:
    labels = [f"com.docker.compose.project={stack.project}", f"com.docker.compose.service={name}"]
    [container] = engine.containers.list(filters={"label": labels})
    return container


@pytest.fixture(scope="module")
def foreign(engine: docker.DockerClient, app: ComposeStack) -> Iterator[Container]:
    """A tenant container of another Cial instance on the same engine."""
    labels = {
        "cial.tenant": str(uuid.uuid4()),
        "cial.slug": "elsewhere",
        "cial.instance": f"{app.project}-other",
    }
    container = engine.containers.run("cial-base:bookworm", ["sleep", "infinity"], detach=True, labels=labels)
    try:
        yield container
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)


@pytest.fixture(scope="module")
def attack(app: ComposeStack, engine: docker.DockerClient, foreign: Container) -> dict[str, Any]:
    """The attacker's attempts from inside the App's container, and what each got."""
    postgres = service(engine, app, "postgres")
    code, output = service(engine, app, "app-api").exec_run(
        ["python3", "-c", ATTACKER, str(foreign.id), str(postgres.id)]
    )
    assert isinstance(output, bytes) and code == 0, output
    results: dict[str, Any] = json.loads(output.decode().strip().splitlines()[-1])
    return results


def status(attack: dict[str, Any], name: str) -> int:
    code: int = attack[name]["status"]
    return code


class TestTheAppHoldsNoDockerSocket:
    def test_the_apps_container_has_no_socket_and_no_docker_group(
        self, app: ComposeStack, engine: docker.DockerClient, attack: dict[str, Any]
    ) -> None:
        assert attack["socket"] is False and attack["docker_host"] is None
        host = service(engine, app, "app-api").attrs["HostConfig"]
        assert not [b for b in host.get("Binds") or [] if "docker.sock" in b]
        assert not host.get("GroupAdd")
        assert not host.get("Privileged")

    def test_only_the_orchestrator_holds_it_and_publishes_no_port(
        self, app: ComposeStack, engine: docker.DockerClient
    ) -> None:
        holders = []
        for name in ("postgres", "app-api", "router", "orchestrator"):
            container = service(engine, app, name)
            mounts = [m.get("Source", "") for m in container.attrs.get("Mounts") or []]
            if any("docker.sock" in m for m in mounts):
                holders.append(name)
        assert holders == ["orchestrator"]
        orchestrator = service(engine, app, "orchestrator")
        assert not orchestrator.attrs["HostConfig"].get("PortBindings")


class TestTheOrchestratorRefusesTheAttacker:
    def test_without_the_token_everything_is_401(self, attack: dict[str, Any]) -> None:
        for name in ("no_token_list", "no_token_create", "wrong_token"):
            assert status(attack, name) == 401, attack[name]

    def test_the_engine_api_is_not_there(self, attack: dict[str, Any]) -> None:
        for name in ("engine_create_privileged", "engine_versioned_create", "engine_exec", "images"):
            assert status(attack, name) == 404, attack[name]

    def test_a_create_asking_for_more_than_a_tenant_is_refused(
        self, attack: dict[str, Any], engine: docker.DockerClient
    ) -> None:
        for name in (
            "create_privileged",
            "create_bind_root",
            "create_volume_root",
            "create_other_image",
            "create_cap_add",
            "create_ld_preload",
            "create_identity",
            "create_not_a_uuid",
        ):
            assert status(attack, name) == 422, attack[name]
            assert attack[name]["body"]["error"] == "invalid_spec"
        assert not engine.containers.list(all=True, filters={"label": "cial.slug=evil"})

    def test_there_is_no_exec(self, attack: dict[str, Any]) -> None:
        assert status(attack, "exec_tenant") in (404, 405), attack["exec_tenant"]

    def test_another_container_or_volume_is_not_removed(
        self, app: ComposeStack, attack: dict[str, Any], engine: docker.DockerClient, foreign: Container
    ) -> None:
        assert status(attack, "remove_postgres") == 409, attack["remove_postgres"]
        assert "something other than Cial" in attack["remove_postgres"]["body"]["reason"]
        assert status(attack, "remove_foreign_tenant") == 409, attack["remove_foreign_tenant"]
        assert status(attack, "remove_pgdata") == 422, attack["remove_pgdata"]
        assert service(engine, app, "postgres").status == "running"
        foreign.reload()
        assert foreign.status == "running"

    def test_the_router_cannot_be_turned_on_the_orchestrator(self, attack: dict[str, Any]) -> None:
        assert status(attack, "router_probe_orchestrator") == 400, attack["router_probe_orchestrator"]


class TestOnlyTheTenantVerbsWork:
    def test_a_tenant_made_through_the_verb_has_the_fixed_recipe(
        self, app: ComposeStack, attack: dict[str, Any], engine: docker.DockerClient
    ) -> None:
        assert status(attack, "list") == 200
        made = attack["create_tenant"]
        assert made["status"] == 200, made
        [container] = containers_of(engine, attack["victim"])
        try:
            host = container.attrs["HostConfig"]
            assert host["Privileged"] is False
            # Docker lists the named volume under Binds too; no host path is among them.
            assert [b.split(":")[0] for b in host.get("Binds") or []] == [
                f"cial-tenant-{attack['victim']}-data"
            ]
            assert host["ReadonlyRootfs"] is True and host["CapDrop"] == ["ALL"]
            assert container.image.tags and TENANT_IMAGE in container.image.tags
            assert [m["Type"] for m in container.attrs["Mounts"]] == ["volume"]
            env = dict(pair.split("=", 1) for pair in container.attrs["Config"]["Env"])
            assert env["TENANT_ID"] == attack["victim"] and env["TENANT_SLUG"] == "hardened"
        finally:
            # Not the App's tenant: its reconciler quarantines it; clear it away here.
            container.remove(force=True)

    def test_the_app_still_runs_tenants_through_the_orchestrator(self, app: ComposeStack) -> None:
        with contextlib.closing(signed_in(app.app_url, OWNER, setup_token=app.setup_token)) as api:
            create(api, "guarded")

            def running() -> dict[str, Any] | None:
                seen = tenant(api, "guarded")
                assert seen["state"] != "error", seen["state_reason"]
                return seen if seen["state"] == "running" else None

            body = eventually(running, timeout=UP, what="guarded to be running")
            page = httpx.get(f"http://127.0.0.1:{body['published_port']}/", timeout=5)
            assert "Platform · Tenant guarded" in page.text
            assert api.delete("/api/admin/tenants/guarded").status_code == 204
