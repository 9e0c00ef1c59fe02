"""The recipe's inputs are checked before any engine sees them."""

from __future__ import annotations

import pytest
from cial_app.orchestrator import (
    TENANT_LABEL,
    InvalidSpec,
    Machine,
    MachineSpec,
    MachineState,
    MachineTemplate,
    NoAddress,
    Reach,
    parse_memory,
)


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

    def test_tenant_id_in_the_environment_cannot_be_overridden(self) -> None:
        with pytest.raises(InvalidSpec, match="TENANT_ID"):
            spec(env={"TENANT_ID": "other"})

    def test_an_invalid_environment_name_is_refused(self) -> None:
        with pytest.raises(InvalidSpec, match="environment"):
            spec(env={"A-B": "1"})

    @pytest.mark.parametrize(
        ("field", "value", "words"),
        [
            ("memory_bytes", 1024, "memory"),
            ("cpus", 0, "cpu"),
            ("pids_limit", 3, "pids"),
            ("host_port", 70000, "port"),
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

    def test_a_template_with_a_network_reaches_tenants_by_name(self) -> None:
        assert MachineTemplate(network="n").reach is Reach.NETWORK
        assert MachineTemplate().reach is Reach.HOST


class TestAddresses:
    machine = Machine(
        tenant_id="7", state=MachineState.RUNNING, host_port=32768, internal_host="cial-tenant-beta"
    )

    def test_on_the_host_the_published_port_on_loopback_is_used(self) -> None:
        assert self.machine.base_url(Reach.HOST) == "http://127.0.0.1:32768"

    def test_on_the_network_the_container_name_and_port_8080_are_used(self) -> None:
        assert self.machine.base_url(Reach.NETWORK) == "http://cial-tenant-beta:8080"

    def test_a_machine_without_a_port_has_no_address(self) -> None:
        with pytest.raises(NoAddress, match="no published port"):
            Machine.absent("7").base_url(Reach.HOST)
