"""The CSRF token of a response, as `django.middleware.csrf.get_token` makes it, in fewer steps.

Django draws a fresh random mask for every response (BREACH protection: the token in the page
changes each time although the secret in the cookie does not), and for a visitor without a CSRF
cookie a new secret too. It draws each of their 32 characters with `secrets.choice` and masks the
secret character by character in Python: about 300 function calls per response, the largest piece
of a cached storefront page's own CPU after its one query and one Redis round trip (README "Speed").

`csrf_token` keeps everything about the token as it is: the same alphabet and lengths, secrets and
masks drawn uniformly from the operating system's CSPRNG (`os.urandom`, as `secrets` does), the same
`request.META` flags (so CsrfViewMiddleware sets or renews the cookie exactly as after `get_token`),
and a token Django's own middleware unmasks and checks. Only the drawing is done on whole byte strings
(one `os.urandom` call) instead of one `secrets.choice` per character.
"""

from __future__ import annotations

import operator
import os

from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH

ALPHABET = CSRF_ALLOWED_CHARS.encode("ascii")
BASE = len(ALPHABET)  # 62

# Random bytes below 248 (4 × 62) fall evenly on the alphabet (b % 62); the 8 above are dropped,
# so every character is equally likely, as with secrets.choice.
_EVEN = BASE * (256 // BASE)
_TO_INDEX = bytes(value % BASE for value in range(_EVEN)) + bytes(256 - _EVEN)
_UNEVEN = bytes(range(_EVEN, 256))
_INDEX_TO_CHAR = ALPHABET + bytes(256 - BASE)
_CHAR_TO_INDEX = bytes(ALPHABET.index(value) if value in ALPHABET else 0 for value in range(256))
# The sum of two indices (0..122) -> the character of that sum modulo the alphabet: masking a
# secret is then a sum per place and one translate, with no Python code run per character.
_SUM_TO_CHAR = bytes(ALPHABET[total % BASE] for total in range(2 * BASE - 1)) + bytes(256 - (2 * BASE - 1))


def random_indices(length: int = CSRF_SECRET_LENGTH) -> bytes:
    """`length` bytes, each uniform on 0..61, from os.urandom."""
    drawn = b""
    while len(drawn) < length:
        drawn += os.urandom(length + 16).translate(None, _UNEVEN)
    return drawn[:length].translate(_TO_INDEX)


def new_secret() -> str:
    """A new CSRF secret: 32 characters, each uniform over the alphabet (`_get_new_csrf_string`)."""
    return random_indices().translate(_INDEX_TO_CHAR).decode("ascii")


def mask_secret(secret: str) -> str:
    """A masked token for `secret` (`_mask_cipher_secret`): a new random mask, then each secret
    character shifted by the mask's character at the same place, modulo the alphabet."""
    if len(secret) != CSRF_SECRET_LENGTH or secret.strip(CSRF_ALLOWED_CHARS):
        raise ValueError("not a CSRF secret")
    mask = random_indices()
    indices = secret.encode("ascii").translate(_CHAR_TO_INDEX)
    cipher = bytes(map(operator.add, indices, mask)).translate(_SUM_TO_CHAR)
    return (mask.translate(_INDEX_TO_CHAR) + cipher).decode("ascii")


def csrf_token(request) -> str:
    """The CSRF token for a form in this response: `django.middleware.csrf.get_token`, same effects."""
    meta = request.META
    if "CSRF_COOKIE" in meta:
        secret = meta["CSRF_COOKIE"]
    else:  # no valid cookie came with the request: a new secret, which the middleware will set
        secret = meta["CSRF_COOKIE"] = new_secret()
    meta["CSRF_COOKIE_NEEDS_UPDATE"] = True  # set, or renewed, by CsrfViewMiddleware.process_response
    return mask_secret(secret)
