"""Identifier helpers: build valid 统一社会信用代码 (for master data set-up and demos)."""
from stdnum.cn import uscc


def make_uscc(region_code: str, serial: int, prefix: str = "11") -> str:
    """A valid USCC: registration body and kind (`11`: 机构编制 / 机关), 6-digit region,
    9-character organization code, check character."""
    body = f"{prefix}{region_code}{serial:09d}"
    return body + uscc.calc_check_digit(body)
