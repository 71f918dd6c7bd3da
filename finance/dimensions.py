"""The dimension vocabulary: the tuple every amount carries, its code lengths and model
fields, its key format and parser, and the project categories of the 一体化 rules.

An amount is always (year, region, unit, function, economic, fund source, project) →
money. Every app names a tuple with `Dims`, stores it with `code_field`, keys it with
`Dims.key` and reads a key back with `Dims.from_key`; nothing re-declares them."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

# the dimensions of a tuple, in key order
DIMENSIONS = ("region", "unit", "function", "economic", "fund_source", "project")

# the longest code each dimension's code list allows (finance.models: Region 6,
# Organization/CodeBase 20; project codes 40)
CODE_LENGTHS = {"region": 6, "unit": 20, "function": 20, "economic": 20, "fund_source": 20,
                "project": 40}

KEY_SEPARATOR = "|"


class BadDimsKey(ValueError):
    """A string that is not `year|region|unit|function|economic|fund_source|project`."""


@dataclass(frozen=True)
class Dims:
    """A dimension tuple; blank where a book does not use a dimension. Codes are strings."""

    region: str = ""
    unit: str = ""
    function: str = ""
    economic: str = ""
    fund_source: str = ""
    project: str = ""

    def key(self, year: int) -> str:
        """The stored key of the tuple in `year` (balances, the indicator register)."""
        return KEY_SEPARATOR.join(
            (str(year), self.region, self.unit, self.function, self.economic,
             self.fund_source, self.project)
        )

    @classmethod
    def from_key(cls, key: str) -> tuple[int, Dims]:
        """(year, tuple) of a key written by `key`."""
        parts = key.split(KEY_SEPARATOR)
        if len(parts) != 1 + len(DIMENSIONS) or not parts[0].isdigit():
            raise BadDimsKey(key)
        return int(parts[0]), cls(*parts[1:])

    @classmethod
    def of(cls, obj: Any, *, suffix: str = "") -> Dims:
        """The tuple stored on a model row by `dims_fields` (`suffix` "_code" for rows
        whose fields are named region_code, …; a foreign key's `code` is read)."""
        values = []
        for name in DIMENSIONS:
            value = getattr(obj, name + suffix, "")
            values.append(getattr(value, "code", value) or "")
        return cls(*(str(v) for v in values))


def code_field(name: str, **kwargs: Any) -> models.CharField:
    """The model field that stores the code of dimension `name` (length from the code
    lists; the project may be blank)."""
    kwargs.setdefault("max_length", CODE_LENGTHS[name])
    if name == "project":
        kwargs.setdefault("blank", True)
    return models.CharField(**kwargs)


# ---------------------------------------------------------------- project categories
class ProjectCategory(models.TextChoices):
    """项目类别 of the 一体化 rules: every expenditure is a project of one category."""

    PERSONNEL = "personnel", _("personnel (人员类)")
    RUNNING = "running", _("running costs (运转类)")
    SPECIFIC = "specific", _("specific purpose (特定目标类)")


# 基本支出 = 人员类 + 运转类; 项目支出 = 特定目标类
BASIC_CATEGORIES = frozenset({ProjectCategory.PERSONNEL.value, ProjectCategory.RUNNING.value})


def is_basic(category: str) -> bool:
    return category in BASIC_CATEGORIES


# The project library lives in budgets (above finance); it registers how to read the
# category of project codes, so finance's measures can split by it without importing it.
_category_source: list[Callable[[Iterable[str] | None], Any]] = []


def register_project_categories(source: Callable[[Iterable[str] | None], Any]) -> None:
    """`source(categories)` returns the project codes of those categories, as a queryset
    of codes (usable as a subquery) — or, called with None, a {code: category} dict."""
    _category_source[:] = [source]


def project_codes_of(categories: Iterable[str]) -> Any:
    """Project codes of the given categories (a queryset of codes: a SQL subquery)."""
    if not _category_source:
        raise RuntimeError("no project library registered (budgets app not installed)")
    return _category_source[0](sorted(categories))


def project_categories() -> dict[str, str]:
    """{project code: category} of every project in the library."""
    if not _category_source:
        return {}
    return dict(_category_source[0](None))


# ---------------------------------------------------------------- names of codes
def code_names(codes: dict[str, Iterable[str]]) -> dict[str, dict[str, str]]:
    """{dimension: {code: name}} for the codes asked, one query per dimension: `region`,
    `unit` (any organization: a unit, its department, the bureau), `function`,
    `economic`, `fund_source`, and the chart's `account`. Pages show a code with its
    name (2050203 小学教育, not only 2050203); an unknown code has no entry."""
    from finance import models as m

    sources = {"region": m.Region, "unit": m.Organization, "department": m.Organization,
               "function": m.FunctionCode, "economic": m.EconomicCode,
               "fund_source": m.FundSource, "account": m.Account}
    out: dict[str, dict[str, str]] = {}
    for name, wanted in codes.items():
        model = sources.get(name)
        wanted = {c for c in wanted if c}
        out[name] = (dict(model.objects.filter(code__in=wanted).values_list("code", "name"))
                     if model is not None and wanted else {})
    return out
