"""Password rules of NIST SP 800-63B 5.1.1.2: a minimum length, no composition rules,
and no password from a list of commonly used ones.

The list is the 30,000 most common passwords of zxcvbn's frequency lists (taken from
leaked password dumps), shipped with the `zxcvbn` package, so no file is kept here
and no network call is made. Compared case-insensitively: "Password1" is as weak as
"password1".
"""

from __future__ import annotations

from functools import cache

COMMON_PASSWORD_MESSAGE = (
    "This password is too common (it appears in lists of leaked passwords); choose another."
)


@cache
def _common_passwords() -> frozenset[str]:
    # Imported on first use: the module is a large literal (~30 ms to load).
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(word.casefold() for word in FREQUENCY_LISTS["passwords"])


def is_common_password(password: str) -> bool:
    return password.casefold() in _common_passwords()
