"""Which labelled resources belong to this App: every resource it makes carries `cial.tenant`
(and `cial.instance` when set), so it can always find what it owns, and never adopts or sweeps
what another instance (a spec's stack beside `make local-up`) made. Any driver labels the same way
(Docker labels, Fly machine metadata)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .base import INSTANCE_LABEL, TENANT_LABEL, MachineSpec

# The instance of `make local-up` (the App's default CIAL_INSTANCE): its names are the plain ones.
LOCAL_INSTANCE = "local"


@dataclass(frozen=True, slots=True)
class Ownership:
    instance: str | None = None

    def selector(self, tenant_id: str | None = None) -> list[str]:
        """Label filters (ANDed by Docker) for our resources, or one tenant's."""
        selector = [TENANT_LABEL if tenant_id is None else f"{TENANT_LABEL}={tenant_id}"]
        if self.instance is not None:
            selector.append(f"{INSTANCE_LABEL}={self.instance}")
        return selector

    def labels(self, spec: MachineSpec) -> dict[str, str]:
        labels = spec.all_labels
        if self.instance is not None:
            labels[INSTANCE_LABEL] = self.instance
        return labels

    def container_name(self, spec: MachineSpec) -> str:
        """The machine's name on the engine. Names are global on a Docker engine, labels are not:
        another instance (a spec's stack) gets a suffix of its own, so it can hold an `acme`
        beside the developer's. A hash keeps the name a DNS label (at most 63 characters)."""
        if self.instance is None or self.instance == LOCAL_INSTANCE:
            return spec.machine_name
        return f"{spec.machine_name}-{hashlib.sha256(self.instance.encode()).hexdigest()[:6]}"

    def ours(self, labels: dict[str, str]) -> bool:
        if TENANT_LABEL not in labels:
            return False
        return self.instance is None or labels.get(INSTANCE_LABEL) == self.instance

    @staticmethod
    def owner(labels: dict[str, str]) -> str:
        """Whose a resource is, in words for an error message."""
        if TENANT_LABEL not in labels:
            return "something other than Cial"
        instance = labels.get(INSTANCE_LABEL)
        where = f" of Cial instance {instance!r}" if instance else ""
        return f"tenant {labels[TENANT_LABEL]}{where}"
