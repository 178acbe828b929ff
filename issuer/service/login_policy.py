"""What a new account's name and password must be, after the standards rather than habit.

* User names are prepared with the PRECIS UsernameCaseMapped profile (RFC 8265, via
  ``precis-i18n``): width-mapped, case-folded, NFC, no spaces or controls, so that "Demo"
  and "demo" are one name. A name that mixes scripts in a way that can pass for another
  (a Cyrillic "е" in "dеmo", per ``confusable-homoglyphs``) is refused, and so is one whose
  Latin look-alike is already taken.
* Passwords follow NIST SP 800-63B: at least PASSWORD_MIN characters, no composition rules,
  not containing the user name, and not easy to guess (``zxcvbn``'s estimate, which knows
  the common-password lists, at least MIN_STRENGTH of 4).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from confusable_homoglyphs import confusables
from zxcvbn import zxcvbn

USERNAME_MAX = 64
PASSWORD_MIN = 10
MIN_STRENGTH = 3  # zxcvbn's score, 0 (a top-10 password) to 4
_STRENGTH_INPUT = 128  # zxcvbn's time grows with the length; a longer password is judged by its start


class PolicyRefused(ValueError):
    """A name or password the policy refuses: the field, and why in both languages."""

    def __init__(self, field: str, message: str, message_zh: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.message_zh = field, message, message_zh


@lru_cache(maxsize=1)
def _profile() -> Any:
    import precis_i18n

    return precis_i18n.get_profile("UsernameCaseMapped")


def prepare_username(text: str) -> str | None:
    """The name as stored and compared (RFC 8265 UsernameCaseMapped), or None if the
    profile refuses it or it is longer than USERNAME_MAX."""
    try:
        name = str(_profile().enforce(text.strip()))
    except (UnicodeError, TypeError):
        return None
    return name if 0 < len(name) <= USERNAME_MAX else None


def latin_skeleton(name: str) -> str:
    """``name`` with every character that has a Latin look-alike replaced by it: two names
    with the same skeleton are easily taken one for the other."""
    found = confusables.is_confusable(name, greedy=True, preferred_aliases=["latin"]) or []
    swap = {item["character"]: item["homoglyphs"][0]["c"] for item in found if item.get("homoglyphs")}
    return "".join(swap.get(ch, ch) for ch in name)


def check_new_username(text: str) -> str:
    """The prepared name of a new account, or PolicyRefused."""
    name = prepare_username(text)
    if name is None:
        raise PolicyRefused("username", f"1 to {USERNAME_MAX} letters, digits or symbols, no spaces",
                            f"用户名须为1至{USERNAME_MAX}个字母、数字或符号，不含空格")
    if confusables.is_dangerous(name):
        raise PolicyRefused("username", "mixes scripts in a way that can pass for another name",
                            "用户名混用了容易混淆的文字，请换一个用户名")
    return name


def check_new_password(password: str, username: str) -> None:
    """PolicyRefused unless ``password`` is long enough, does not hold the user name and is
    not easy to guess."""
    if len(password) < PASSWORD_MIN:
        raise PolicyRefused("password", f"at least {PASSWORD_MIN} characters", f"密码至少{PASSWORD_MIN}位")
    if username and username.casefold() in password.casefold():
        raise PolicyRefused("password", "must not contain the user name", "密码不能包含用户名")
    estimate = zxcvbn(password[:_STRENGTH_INPUT], user_inputs=[username])
    if estimate["score"] < MIN_STRENGTH:
        raise PolicyRefused("password", "too easy to guess: use a longer, less common phrase",
                            "密码太容易被猜到，请使用更长、更不常见的短语")
