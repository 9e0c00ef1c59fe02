"""The App's typed errors.

Each carries the HTTP status it maps to, a stable machine code and the message a user needs;
the web layer turns them into responses in one place (`cial_app.api.errors`). Services raise
these and never import the web framework.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar


class ConfigurationError(Exception):
    """A setting in the environment is unusable; raised before the App starts serving."""


class AppError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        # The request field the user has to fix, so forms can show the message next to it.
        self.field = field

    @property
    def headers(self) -> Mapping[str, str]:
        return {}


class InvalidInput(AppError):
    status = 400
    code = "invalid_input"


class UnknownHost(InvalidInput):
    code = "unknown_host"

    def __init__(self, host: str | None) -> None:
        # The operator's fix, not the list itself: which names are allowed is nobody else's business.
        shown = "no Host header" if host is None else f"Host {host[:100]!r}"
        super().__init__(
            f"This App does not answer to {shown}. "
            "Reach it as localhost, or add the name to CIAL_ALLOWED_HOSTS."
        )


class NotAuthenticated(AppError):
    status = 401
    code = "not_authenticated"


class InvalidCredentials(AppError):
    status = 401
    code = "invalid_credentials"

    def __init__(self) -> None:
        # One message for an unknown e-mail and a wrong password: no account enumeration.
        super().__init__("Invalid email or password.")


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class SignUpClosed(Forbidden):
    code = "sign_up_closed"

    def __init__(self) -> None:
        super().__init__("Sign-up is closed: this App already has its owner. Sign in instead.")


class SetupTokenRequired(Forbidden):
    """The first sign-up came from another machine (in compose: any browser) without a token."""

    code = "setup_token_required"

    def __init__(self, *, configured: bool) -> None:
        how = (
            "Open the sign-up link `make local-up` printed (it carries ?setup=...), or send the token "
            "(CIAL_SETUP_TOKEN in .local/secrets.env) in the X-Cial-Setup-Token header."
            if configured
            else "This App has no setup token (CIAL_SETUP_TOKEN): sign up from the machine it runs on."
        )
        super().__init__(
            "Creating the owner account needs the setup token when it does not come from this machine. "
            + how,
            field="setup_token",
        )


class SetupTokenInvalid(Forbidden):
    code = "setup_token_invalid"

    def __init__(self) -> None:
        super().__init__(
            "The setup token is wrong. Use the sign-up link `make local-up` printed, or CIAL_SETUP_TOKEN "
            "from .local/secrets.env.",
            field="setup_token",
        )


class CrossSiteRequest(Forbidden):
    code = "cross_site_request"


class CsrfTokenInvalid(Forbidden):
    code = "csrf_token_invalid"

    def __init__(self) -> None:
        super().__init__(
            "The form has expired or did not come from this site. Reload the page and try again."
        )


class NotFound(AppError):
    status = 404
    code = "not_found"


class Conflict(AppError):
    status = 409
    code = "conflict"


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"


class Unavailable(AppError):
    """A feature this App instance is not set up for, or cannot serve right now."""

    status = 503
    code = "unavailable"


class TooManyAttempts(AppError):
    status = 429
    code = "too_many_attempts"

    def __init__(self, retry_after_seconds: int) -> None:
        self.retry_after_seconds = max(1, retry_after_seconds)
        super().__init__(
            f"Too many failed sign-in attempts. Try again in {self.retry_after_seconds} seconds."
        )

    @property
    def headers(self) -> Mapping[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}


class HashingBusy(Unavailable):
    """Every thread that checks passwords is busy and its queue is full (a flood of sign-ins)."""

    code = "busy"
    RETRY_AFTER_SECONDS: ClassVar[int] = 2

    def __init__(self) -> None:
        super().__init__(
            f"The App is busy checking other sign-ins. Try again in {self.RETRY_AFTER_SECONDS} seconds."
        )

    @property
    def headers(self) -> Mapping[str, str]:
        return {"Retry-After": str(self.RETRY_AFTER_SECONDS)}
