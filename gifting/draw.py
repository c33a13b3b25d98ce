"""The lucky draw: fair, seeded, recorded and verifiable.

When the gift is made, a random 256-bit seed is drawn and only its SHA-256 is shown to the giver, so
the seed cannot be chosen after the entries are known. At the draw each entrant's key is
SHA-256("<seed>:<gift token>:<user id>") in hex; the `copies` entrants with the smallest keys win
(ties cannot happen in practice; the user id breaks them). The seed, every key and the outcome are
stored; the giver's page shows the seed, so anyone can recompute the keys and check the winners and
that SHA-256(seed) is the hash shown before the draw.
"""

import hashlib
import secrets


def draw_seed_new() -> tuple[str, str]:
    """(seed, its SHA-256), both hex."""
    seed = secrets.token_hex(32)
    return seed, seed_digest(seed)


def seed_digest(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def draw_key(*, seed: str, token: str, user_id: int) -> str:
    return hashlib.sha256(f"{seed}:{token}:{user_id}".encode()).hexdigest()


def draw_winners(
    *, seed: str, token: str, user_ids: list[int], copies: int
) -> tuple[dict[int, str], set[int]]:
    """({user id: key}, winners): the `copies` smallest keys win."""
    keys = {user_id: draw_key(seed=seed, token=token, user_id=user_id) for user_id in user_ids}
    ranked = sorted(user_ids, key=lambda user_id: (keys[user_id], user_id))
    return keys, set(ranked[:copies])
