"""Passwords are argon2id at OWASP's cost or above, and a wrong one never verifies."""

from __future__ import annotations

import re

from cial_app.auth.passwords import PasswordHasher


class TestPasswordHasher:
    async def test_hashes_are_argon2id_with_at_least_owasp_cost(self) -> None:
        stored = await PasswordHasher().hash("correct horse")
        match = re.match(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$", stored)
        assert match, stored
        memory, time, parallelism = map(int, match.groups())
        assert memory >= 19456 and time >= 2 and parallelism >= 1

    async def test_the_right_password_verifies_and_a_wrong_one_does_not(self) -> None:
        hasher = PasswordHasher()
        stored = await hasher.hash("correct horse")
        assert (await hasher.verify(stored, "correct horse")).ok
        assert not (await hasher.verify(stored, "correct horsE")).ok
        assert not (await hasher.verify("not a hash", "correct horse")).ok

    async def test_a_weaker_stored_hash_asks_to_be_rehashed(self) -> None:
        from argon2 import PasswordHasher as Argon2

        weak = Argon2(time_cost=1, memory_cost=8192, parallelism=1).hash("pw")
        verdict = await PasswordHasher().verify(weak, "pw")
        assert verdict.ok and verdict.needs_rehash
