"""The orchestrator service: the only process that holds the Docker socket.

It accepts the tenant verbs of the `Orchestrator` Protocol over HTTP from the App (the `remote`
driver), with a bearer token, on the control plane's internal network only, and builds every
machine from its own recipe. There is no verb for an image, a mount, a privileged container, an
exec, or any container that is not a tenant's of its instance: a remote-code bug in the App, which
serves browsers, cannot become root on the host through it. `python -m cial_app.orchestrator_service`.
"""

from cial_app.orchestrator_service.app import create_service
from cial_app.orchestrator_service.settings import ServiceSettings

__all__ = ["ServiceSettings", "create_service"]
