"""Which labelled resources belong to this App: every resource it makes carries `cial.tenant`
(and `cial.instance` when set), so it can always find what it owns, and never adopts or sweeps
what another instance (a spec's stack beside `make local-up`) made. Any driver labels the same way
(Docker labels, Fly machine metadata)."""

from __future__ import annotations

from dataclasses import dataclass

from .base import INSTANCE_LABEL, TENANT_LABEL, MachineSpec


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
