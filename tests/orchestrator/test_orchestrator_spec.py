"""The recipe's inputs are checked before any engine sees them."""

from __future__ import annotations

import pytest
from cial_app.orchestrator import (
    TENANT_LABEL,
    Endpoint,
    InvalidSpec,
    Machine,
    MachineSpec,
    MachineState,
    MachineTemplate,
    parse_memory,
)
from cial_app.orchestrator.ownership import Ownership


def spec(**overrides: object) -> MachineSpec:
    fields: dict[str, object] = {"tenant_id": "42", "slug": "acme", "image": "cial-tenant:dev"}
    fields.update(overrides)
    return MachineSpec(**fields)  # type: ignore[arg-type]


class TestNames:
    def test_the_container_is_named_after_the_slug(self) -> None:
        assert spec().machine_name == "cial-tenant-acme"

    def test_the_volume_is_named_after_the_id_so_a_reused_slug_never_inherits_data(self) -> None:
        assert spec().volume_name == "cial-tenant-42-data"

    def test_the_labels_carry_id_and_slug_and_cannot_be_overridden(self) -> None:
        assert spec(labels={"team": "x"}).all_labels == {"team": "x", TENANT_LABEL: "42", "cial.slug": "acme"}
        with pytest.raises(InvalidSpec, match=r"cial\.\* labels"):
            spec(labels={TENANT_LABEL: "7"})


class TestValidation:
    @pytest.mark.parametrize("slug", ["", "-acme", "acme-", "Acme", "a_b", "a" * 41, "acme.x"])
    def test_a_slug_that_cannot_be_a_name_is_refused(self, slug: str) -> None:
        with pytest.raises(InvalidSpec, match="slug"):
            spec(slug=slug)

    @pytest.mark.parametrize("tenant_id", ["", "a/b", "-1", "x" * 65, "a b"])
    def test_a_tenant_id_that_cannot_be_a_label_or_name_is_refused(self, tenant_id: str) -> None:
        with pytest.raises(InvalidSpec, match="tenant id"):
            spec(tenant_id=tenant_id)

    @pytest.mark.parametrize("name", ["TENANT_ID", "TENANT_SLUG"])
    def test_who_the_tenant_is_cannot_be_overridden_in_the_environment(self, name: str) -> None:
        with pytest.raises(InvalidSpec, match=name):
            spec(env={name: "other"})

    def test_the_machine_is_told_its_tenant_id_and_its_slug_apart(self) -> None:
        made = spec(tenant_id="0b7c", slug="acme", env={"A": "1"})
        assert made.all_env == {"A": "1", "TENANT_ID": "0b7c", "TENANT_SLUG": "acme"}

    def test_an_invalid_environment_name_is_refused(self) -> None:
        with pytest.raises(InvalidSpec, match="environment"):
            spec(env={"A-B": "1"})

    @pytest.mark.parametrize(
        ("field", "value", "words"),
        [
            ("memory_bytes", 1024, "memory"),
            ("cpus", 0, "cpu"),
            ("pids_limit", 3, "pids"),
            ("published_port", 70000, "port"),
        ],
    )
    def test_limits_out_of_range_are_refused(self, field: str, value: object, words: str) -> None:
        with pytest.raises(InvalidSpec, match=words):
            spec(**{field: value})

    def test_the_error_is_typed_with_a_stable_code(self) -> None:
        with pytest.raises(InvalidSpec) as raised:
            spec(image=" ")
        assert raised.value.code == "invalid_spec" and "image" in raised.value.reason


class TestMemory:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("256m", 256 * 2**20),
            ("1g", 2**30),
            ("512MiB", 512 * 2**20),
            ("64 MB", 64 * 2**20),
            ("1000", 1000),
        ],
    )
    def test_sizes_are_read_as_people_write_them(self, text: str, expected: int) -> None:
        assert parse_memory(text) == expected

    def test_a_size_that_is_not_one_is_refused(self) -> None:
        with pytest.raises(InvalidSpec, match="lots"):
            parse_memory("lots")


class TestTemplate:
    def test_every_tenant_gets_the_settings_of_the_template(self) -> None:
        template = MachineTemplate(image="img:1", cpus=0.5, network="cial-net", env={"A": "1"})
        made = template.spec_for("7", "beta")
        assert (made.image, made.cpus, made.network, dict(made.env)) == ("img:1", 0.5, "cial-net", {"A": "1"})

    def test_a_tenant_can_get_env_of_its_own_on_top_of_the_template(self) -> None:
        template = MachineTemplate(image="img:1", env={"A": "1", "B": "template"})
        made = template.spec_for("7", "beta", {"B": "own", "C": "3"})
        assert dict(made.env) == {"A": "1", "B": "own", "C": "3"}
        assert dict(template.spec_for("8", "gamma").env) == {"A": "1", "B": "template"}


class TestAddresses:
    machine = Machine(
        tenant_id="7",
        state=MachineState.RUNNING,
        published_port=32768,
        upstream=Endpoint("cial-tenant-beta", 8080),
    )

    def test_the_published_port_is_on_the_hosts_loopback(self) -> None:
        assert self.machine.published == Endpoint("127.0.0.1", 32768)
        assert self.machine.published.url == "http://127.0.0.1:32768"

    def test_the_upstream_is_where_the_router_dials(self) -> None:
        assert self.machine.upstream is not None
        assert self.machine.upstream.url == "http://cial-tenant-beta:8080"

    def test_an_ipv6_upstream_is_bracketed_in_its_url(self) -> None:
        assert Endpoint("fd00::5", 8080).url == "http://[fd00::5]:8080"

    def test_a_machine_that_is_not_running_has_no_address(self) -> None:
        absent = Machine.absent("7")
        assert (absent.published, absent.upstream) == (None, None)


class TestContainerNames:
    def test_the_developers_instance_and_an_unscoped_driver_use_the_plain_name(self) -> None:
        assert Ownership("local").container_name(spec()) == "cial-tenant-acme"
        assert Ownership(None).container_name(spec()) == "cial-tenant-acme"

    def test_another_instance_gets_a_stable_suffix_of_its_own_so_two_can_hold_the_same_slug(self) -> None:
        ours, theirs = Ownership("spec-1-l5-sso"), Ownership("spec-1-l6-local")
        assert ours.container_name(spec()).startswith("cial-tenant-acme-")
        assert ours.container_name(spec()) == ours.container_name(spec())
        assert ours.container_name(spec()) != theirs.container_name(spec())

    def test_the_longest_slug_still_makes_a_dns_label(self) -> None:
        longest = spec(slug="a" * 40)
        assert len(Ownership("an-instance-with-a-long-name-" * 3).container_name(longest)) <= 63
