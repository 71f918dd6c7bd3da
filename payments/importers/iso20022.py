"""What the ISO 20022 readers (camt.053/054, pain.002) share: a safe lxml parse, lookups
in the document's own namespace whatever its version, and the ISO date-time."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.utils import timezone
from lxml import etree

from payments.importers.common import BankRows, ImportIssue

# a date-time without an offset is the bank's local time
BANK_TZ = ZoneInfo("Asia/Shanghai")


class Ns:
    """Element lookups in the document's own namespace (any message version), by
    paths of local names; lxml's C findtext does the work."""

    def __init__(self, uri: str) -> None:
        self.map = {"c": uri} if uri else {}
        self.prefix = "c:" if uri else ""
        self._paths: dict[str, str] = {}

    def path(self, path: str) -> str:
        found = self._paths.get(path)
        if found is None:
            found = self._paths[path] = "/".join(
                p if p in (".", "..") else self.prefix + p
                for p in path.split("/"))
        return found

    def find(self, el: etree._Element, path: str) -> etree._Element | None:
        return el.find(self.path(path), self.map)

    def findall(self, el: etree._Element, path: str) -> list[etree._Element]:
        return el.findall(self.path(path), self.map)

    def text(self, el: etree._Element, path: str) -> str:
        return (el.findtext(self.path(path), "", self.map) or "").strip()

    def texts(self, el: etree._Element, path: str) -> list[str]:
        return [(e.text or "").strip() for e in el.iterfind(self.path(path), self.map)]

    def first(self, el: etree._Element, *paths: str) -> str:
        for p in paths:
            found = self.text(el, p)
            if found:
                return found
        return ""

    def account(self, el: etree._Element, path: str) -> str:
        """An account (`…Acct`) by its proprietary number or its IBAN."""
        return self.first(el, path + "/Id/Othr/Id", path + "/Id/IBAN")

    def name(self, el: etree._Element, path: str) -> str:
        """A party's name, `Pty/Nm` (2019 versions on) or `Nm` (earlier)."""
        return self.first(el, path + "/Pty/Nm", path + "/Nm")


def read_xml(content: bytes, rows: BankRows) -> etree._Element | None:
    """The document's root, or None with a fatal issue in `rows` (no entities, no network)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    try:
        root = etree.fromstring(content, parser=parser)
    except etree.XMLSyntaxError as exc:
        rows.fatal = True
        rows.issues.append(ImportIssue(rows.filename, exc.lineno or 0, "xml", str(exc.msg)))
        return None
    except ValueError as exc:  # lxml refuses some inputs outright
        rows.fatal = True
        rows.issues.append(ImportIssue(rows.filename, 0, "xml", str(exc)))
        return None
    if root is None:
        rows.fatal = True
        rows.issues.append(ImportIssue(rows.filename, 0, "xml", "empty document"))
    return root


def namespace(root: etree._Element) -> str:
    return etree.QName(root).namespace or ""


def local(el: etree._Element) -> str:
    return etree.QName(el).localname


def aware(text: str) -> dt.datetime:
    """ISO 8601 date-time ('2026-10-16T09:30:00+08:00', '…Z', '….123') → aware datetime;
    without an offset it is Asia/Shanghai local time. ValueError if it is none."""
    value = dt.datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = timezone.make_aware(value, BANK_TZ)
    return value
