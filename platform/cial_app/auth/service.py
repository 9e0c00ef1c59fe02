"""Sign-up, sign-in, sign-out and session lookup. All auth logic lives here, not in the web layer."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cial_app.auth import rules
from cial_app.auth.passwords import PasswordHasher
from cial_app.auth.tables import OWNER_SLOT, Session, User
from cial_app.auth.throttle import SignInThrottle
from cial_app.db import is_unique_violation, utcnow
from cial_app.errors import (
    HashingBusy,
    InvalidCredentials,
    SetupTokenInvalid,
    SetupTokenRequired,
    SignUpClosed,
)


@dataclass(frozen=True, slots=True)
class Account:
    id: uuid.UUID
    email: str
    name: str
    is_owner: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: uuid.UUID
    user_id: uuid.UUID
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The outcome of a sign-up or sign-in; `token` goes into the cookie and nowhere else."""

    token: str
    session: SessionInfo
    user: Account


@dataclass(frozen=True, slots=True)
class CurrentSession:
    session: SessionInfo
    user: Account


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthService:
    def __init__(
        self,
        *,
        hasher: PasswordHasher,
        throttle: SignInThrottle,
        session_ttl: timedelta,
        setup_token: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._hasher = hasher
        self._setup_token = setup_token
        self._throttle = throttle
        self._session_ttl = session_ttl
        self._clock = clock

    async def sign_up_open(self) -> bool:
        exists: bool = await User.exists().run()
        return not exists

    def needs_setup_token(self, client: str) -> bool:
        """Whether a sign-up from `client` (the peer's address) must carry the setup token."""
        return not is_loopback(client)

    async def sign_up(
        self, *, name: str, email: str, password: str, client: str, setup_token: str | None = None
    ) -> SignedIn:
        """Create the owner and sign them in; only while no user exists, and only from this
        machine (`client` is loopback) or with the setup token.

        A fresh install's owner slot goes to whoever signs up first: on a laptop that is whoever
        can reach the port. From loopback that is this machine's user; from anywhere else (in
        compose every browser arrives from Docker's bridge gateway) the caller proves it read the
        secrets `make local-up` generated. A token offered must be right, also from loopback."""
        if not await self.sign_up_open():
            raise SignUpClosed()
        self._check_setup(client, setup_token)
        name = rules.check_name(name)
        email = rules.check_email(email)
        password_hash = await self._hasher.hash(rules.check_new_password(password))
        now = self._clock()
        user = User(
            id=uuid.uuid4(),
            email=email,
            name=name,
            password_hash=password_hash,
            owner_slot=OWNER_SLOT,
            created_at=now,
            updated_at=now,
        )
        try:
            await User.insert(user).run()
        except Exception as error:
            # Another sign-up won the race for the owner slot (or the e-mail) in the database.
            if is_unique_violation(error):
                raise SignUpClosed() from error
            raise
        return await self._open_session(_account(user))

    def _check_setup(self, client: str, offered: str | None) -> None:
        if offered:
            expected = self._setup_token
            # Constant time: the comparison does not say how much of a guess was right.
            if expected is None or not hmac.compare_digest(offered.encode(), expected.encode()):
                raise SetupTokenInvalid()
            return
        if self.needs_setup_token(client):
            raise SetupTokenRequired(configured=self._setup_token is not None)

    async def sign_in(self, *, email: str, password: str, client: str) -> SignedIn:
        email = rules.check_credentials_present(email, password)
        # Counted before the password is hashed, so concurrent attempts cannot all pass the check.
        attempt = await self._throttle.reserve(email, client)
        user = await User.objects().where(User.email == email).first().run()
        try:
            if user is None:
                await self._hasher.burn(password)
                raise InvalidCredentials()
            verdict = await self._hasher.verify(user.password_hash, password)
        except HashingBusy:
            await self._throttle.refund(attempt)
            raise
        if not verdict.ok:
            raise InvalidCredentials()
        await self._throttle.succeeded(attempt)
        if verdict.needs_rehash:
            await (
                User.update(
                    {User.password_hash: await self._hasher.hash(password), User.updated_at: self._clock()}
                )
                .where(User.id == user.id)
                .run()
            )
        await Session.delete().where(Session.expires_at <= self._clock()).run()
        return await self._open_session(_account(user))

    async def sign_out(self, token: str) -> None:
        await Session.delete().where(Session.token_hash == hash_token(token)).run()

    async def current(self, token: str | None) -> CurrentSession | None:
        """The live session behind a cookie token, or None (unknown, expired or signed out)."""
        if not token:
            return None
        row = (
            await Session.objects(Session.user)
            .where((Session.token_hash == hash_token(token)) & (Session.expires_at > self._clock()))
            .first()
            .run()
        )
        if row is None:
            return None
        user: User = row.user
        return CurrentSession(session=_session_info(row, user.id), user=_account(user))

    async def _open_session(self, account: Account) -> SignedIn:
        token = secrets.token_urlsafe(32)
        now = self._clock()
        row = Session(
            id=uuid.uuid4(),
            token_hash=hash_token(token),
            user=account.id,
            created_at=now,
            expires_at=now + self._session_ttl,
        )
        await Session.insert(row).run()
        return SignedIn(token=token, session=_session_info(row, account.id), user=account)


def is_loopback(client: str) -> bool:
    """Whether the peer's address is this machine's loopback (anything unparsable is not)."""
    try:
        return ipaddress.ip_address(client).is_loopback
    except ValueError:
        return False


def _account(user: User) -> Account:
    return Account(
        id=user.id,
        email=user.email,
        name=user.name,
        is_owner=user.owner_slot == OWNER_SLOT,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


def _session_info(row: Session, user_id: uuid.UUID) -> SessionInfo:
    return SessionInfo(id=row.id, user_id=user_id, created_at=row.created_at, expires_at=row.expires_at)
