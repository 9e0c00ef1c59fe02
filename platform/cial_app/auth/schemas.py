"""Auth request and response bodies, shaped like better-auth's (camelCase fields)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from cial_app.auth import rules
from cial_app.auth.service import Account, CurrentSession, SessionInfo, SignedIn


class SignUpBody(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(description=f"1 to {rules.NAME_MAX} characters")]
    email: Annotated[str, msgspec.Meta(description="The owner's e-mail address; it is the sign-in name")]
    password: Annotated[
        str, msgspec.Meta(description=f"{rules.PASSWORD_MIN} to {rules.PASSWORD_MAX} characters")
    ]


class SignInBody(msgspec.Struct):
    email: str
    password: str


class UserOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    email: str
    name: str
    role: Literal["owner", "user"]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, account: Account) -> UserOut:
        return cls(
            id=account.id,
            email=account.email,
            name=account.name,
            role="owner" if account.is_owner else "user",
            created_at=account.created_at,
            updated_at=account.updated_at,
        )


class SessionOut(msgspec.Struct, rename="camel"):
    id: uuid.UUID
    user_id: uuid.UUID
    created_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, session: SessionInfo) -> SessionOut:
        return cls(
            id=session.id,
            user_id=session.user_id,
            created_at=session.created_at,
            expires_at=session.expires_at,
        )


class SessionEnvelope(msgspec.Struct):
    session: SessionOut
    user: UserOut

    @classmethod
    def of(cls, current: CurrentSession | SignedIn) -> SessionEnvelope:
        return cls(session=SessionOut.of(current.session), user=UserOut.of(current.user))


class SignOutOut(msgspec.Struct):
    success: bool
