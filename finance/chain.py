"""The keyed chain: a MAC per ledger entry under a secret the database never holds.

The unkeyed SHA-256 chain (`Entry.hash`, computed by the posting statement itself)
orders the entries and binds each to its predecessor, but holds no secret: anyone who
can write the tables can rewrite a line and recompute every later hash with
`finance.ledger.chain_hash`. Each entry therefore also gets
`mac = HMAC-SHA256(key, "key_id|year|number|hash")`, computed in Python (the key never
reaches the database) and stored in `EntryMac`. `hash` covers the content hash, the
number, the previous entry's hash, the poster and the time, so a valid MAC on every
entry authenticates the whole chain up to that entry; without the key nobody can
produce a MAC for a rewritten entry.

Keys (newest signs; every listed key verifies, so rotation never breaks old entries):
  LEDGER_KEYS="k2:<base64 secret>,k1:<base64 secret>"   newest FIRST
  LEDGER_KEY_FILE=/etc/smart-finance/ledger.keys        one "id:base64" a line, newest first
Without either, a public development key (id "dev") is used with a loud warning when
DEBUG=0: it detects accidents, not attackers.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.utils import timezone

log = logging.getLogger(__name__)
DEV_KEY_ID = "dev"
_DEV_KEY = b"smart-finance-development-only-ledger-key-not-secret"
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")


class EntryMac(models.Model):
    """The keyed MAC of one ledger entry (see the module docstring)."""

    entry = models.OneToOneField("finance.Entry", on_delete=models.CASCADE, primary_key=True,
                                 related_name="keyed_mac")
    key_id = models.CharField(max_length=16)
    mac = models.CharField(max_length=64)

    class Meta:
        app_label = "finance"
        db_table = "finance_entrymac"
        verbose_name = "entry MAC"

    def __str__(self) -> str:
        return f"#{self.pk} {self.key_id}:{self.mac[:12]}"


class LedgerKeys:
    """The configured keys: `signing` (id of the newest) and `by_id`."""

    def __init__(self, pairs: list[tuple[str, bytes]], *, dev: bool = False) -> None:
        self.signing = pairs[0][0]
        self.by_id = dict(pairs)
        self.dev = dev

    def get(self, key_id: str) -> bytes | None:
        return self.by_id.get(key_id)


def _parse(spec: str, origin: str) -> list[tuple[str, bytes]]:
    pairs = []
    for raw in re.split(r"[,\n]", spec):
        item = raw.strip()
        if not item or item.startswith("#"):
            continue
        key_id, sep, secret = item.partition(":")
        if not sep or not _KEY_ID.match(key_id):
            raise ImproperlyConfigured(f"{origin}: each key is 'id:base64secret' (id: 1-16 of "
                                       "A-Z a-z 0-9 _ -)")
        try:
            value = base64.b64decode(secret.strip(), validate=True)
        except binascii.Error as exc:
            raise ImproperlyConfigured(f"{origin}: key {key_id} is not base64") from exc
        if len(value) < 16:
            raise ImproperlyConfigured(f"{origin}: key {key_id} is shorter than 16 bytes")
        pairs.append((key_id, value))
    return pairs


@lru_cache(maxsize=1)
def ledger_keys() -> LedgerKeys:
    """The keys from LEDGER_KEYS or LEDGER_KEY_FILE (environment or settings); cached —
    call `ledger_keys.cache_clear()` after changing them (tests, rotation)."""
    spec = os.environ.get("LEDGER_KEYS") or getattr(settings, "LEDGER_KEYS", "")
    path = os.environ.get("LEDGER_KEY_FILE") or getattr(settings, "LEDGER_KEY_FILE", "")
    pairs: list[tuple[str, bytes]] = []
    if spec:
        pairs = _parse(spec, "LEDGER_KEYS")
    elif path:
        pairs = _parse(Path(path).read_text(encoding="utf-8"), f"LEDGER_KEY_FILE {path}")
    if pairs:
        return LedgerKeys(pairs)
    if not settings.DEBUG:
        log.warning("LEDGER KEY NOT SET: the ledger is MACed with the public development key; "
                    "anyone with database access can forge a verifying chain. Set LEDGER_KEYS "
                    "or LEDGER_KEY_FILE.")
    return LedgerKeys([(DEV_KEY_ID, _DEV_KEY)], dev=True)


def _hmac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def entry_mac(*, year: int, number: int, entry_hash: str,
              key_id: str | None = None) -> tuple[str, str]:
    """(key id, MAC) of an entry; the newest key unless `key_id` names another."""
    keys = ledger_keys()
    key_id = key_id or keys.signing
    key = keys.get(key_id)
    if key is None:
        raise KeyError(key_id)
    return key_id, _hmac(key, f"{key_id}|{year}|{number}|{entry_hash}")


def entry_mac_ok(*, year: int, number: int, entry_hash: str, key_id: str,
                 mac: str) -> str | None:
    """None when `mac` is right, else why not."""
    if ledger_keys().get(key_id) is None:
        return f"keyed MAC made with key id {key_id!r}, which is not configured here"
    _kid, expected = entry_mac(year=year, number=number, entry_hash=entry_hash, key_id=key_id)
    if not hmac.compare_digest(expected, mac):
        return "keyed MAC does not match (entry or chain rewritten without the ledger key)"
    return None


def seal_mac(*, table: str, prev: str, history_id: int, row_hash: str,
             key_id: str | None = None) -> str:
    """The keyed link of a history seal, stored as "key_id:mac" in its 64 characters
    (the MAC truncated to what is left: at least 188 bits)."""
    keys = ledger_keys()
    key_id = key_id or keys.signing
    key = keys.get(key_id)
    if key is None:
        raise KeyError(key_id)
    mac = _hmac(key, f"{key_id}|history|{table}|{prev}|{history_id}|{row_hash}")
    return f"{key_id}:{mac[:63 - len(key_id)]}"


def seal_mac_ok(*, table: str, prev: str, history_id: int, row_hash: str,
                stored: str) -> str | None:
    key_id, sep, _mac = stored.partition(":")
    if not sep:
        return "seal has no keyed MAC (made without the ledger key)"
    if ledger_keys().get(key_id) is None:
        return f"seal made with key id {key_id!r}, which is not configured here"
    expected = seal_mac(table=table, prev=prev, history_id=history_id, row_hash=row_hash,
                        key_id=key_id)
    if not hmac.compare_digest(expected, stored):
        return "seal chain is broken (a seal was removed, changed or forged)"
    return None


# ------------------------------------------------------------------- anchors
ANCHOR_KIND = "smart-finance ledger anchor"


@dataclass(frozen=True)
class Anchor:
    """A chain head remembered outside the database: entry `number` of `year` had
    `hash` and `mac` when the anchor was written (at the close of `day`)."""

    year: int
    number: int
    hash: str
    mac: str = ""
    key_id: str = ""
    day: str = ""
    source: str = ""

    def line(self) -> str:
        """The anchor as one text line (the printed verify report)."""
        return (f"anchor year={self.year} number={self.number} hash={self.hash} "
                f"mac={self.mac} key={self.key_id} day={self.day}")

    def as_dict(self) -> dict[str, Any]:
        return {"kind": ANCHOR_KIND, "year": self.year, "number": self.number,
                "hash": self.hash, "mac": self.mac, "key_id": self.key_id, "day": self.day}


_ANCHOR_LINE = re.compile(r"anchor year=(\d+) number=(\d+) hash=([0-9a-f]{64})"
                          r"(?: mac=([0-9a-f]*))?(?: key=(\S*))?(?: day=(\S*))?")


def _anchor_from(obj: dict[str, Any], source: str) -> Anchor:
    return Anchor(int(obj["year"]), int(obj["number"]), str(obj["hash"]), str(obj.get("mac", "")),
                  str(obj.get("key_id", "")), str(obj.get("day", "")), source)


def anchors_read(path: str | Path) -> list[Anchor]:
    """Every anchor in a file: the append-only anchor file (JSON lines), a disclosure
    manifest (JSON with "ledger_anchors") or a printed verify report ("anchor year=…")."""
    text = Path(path).read_text(encoding="utf-8")
    name = str(path)
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("ledger_anchors"), list):
        return [_anchor_from(a, f"{name} (manifest)") for a in doc["ledger_anchors"]]
    found = []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict) and obj.get("kind") == ANCHOR_KIND:
                found.append(_anchor_from(obj, f"{name}:{n}"))
            continue
        m = _ANCHOR_LINE.search(line)
        if m:
            found.append(Anchor(int(m[1]), int(m[2]), m[3], m[4] or "", m[5] or "", m[6] or "",
                                f"{name}:{n}"))
    return found


def anchor_file_path() -> Path:
    return Path(settings.MEDIA_ROOT) / "anchors" / "ledger-anchors.jsonl"


def anchors_append(anchors: list[Anchor], path: Path | None = None) -> Path:
    """Append anchors to the append-only file beside the media (opened with 'a', then
    fsync). Make it append-only for the database's user too: `chattr +a`, or a file on
    another host (see docs/RELIABILITY.md)."""
    path = path or anchor_file_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        for a in anchors:
            fh.write(json.dumps({**a.as_dict(), "written_at": timezone.now().isoformat()},
                                sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return path


# ------------------------------------------------------------------- rekeying
@dataclass
class RekeyResult:
    """What `ledger_rekey` did to one kind of keyed item (entries, or one history table)."""

    what: str
    rekeyed: int = 0
    refused: int = 0
    checked: int = 0
    named: list[str] | None = None  # the refused items, up to the limit

    def refuse(self, name: str, why: str, limit: int) -> None:
        self.refused += 1
        if self.named is None:
            self.named = []
        if len(self.named) < limit:
            self.named.append(f"{name}: {why}")


_rekeyers: list[Callable[..., list[RekeyResult]]] = []


def register_rekeyer(rekeyer: Callable[..., list[RekeyResult]]) -> None:
    """Apps whose rows are keyed with the ledger key (audit's history seals) register a
    `rekeyer(old=, new=, batch=, limit=, dry_run=, progress=)` returning RekeyResults;
    `ledger_rekey` runs them after the entries."""
    if rekeyer not in _rekeyers:
        _rekeyers.append(rekeyer)


def rekeyers() -> list[Callable[..., list[RekeyResult]]]:
    return list(_rekeyers)


def check_rekey_keys(old: str, new: str) -> None:
    """Both keys must be configured: the old one to verify, the new one to sign."""
    keys = ledger_keys()
    if old == new:
        raise ValueError(f"--from and --to are the same key id {old!r}")
    for key_id, role in ((old, "verify the old MACs"), (new, "make the new ones")):
        if keys.get(key_id) is None:
            raise ValueError(f"key id {key_id!r} is not configured (LEDGER_KEYS / LEDGER_KEY_FILE): "
                             f"it is needed to {role}")


def entries_rekey(*, old: str, new: str, batch: int = 2000, limit: int = 100,
                  dry_run: bool = False,
                  progress: Callable[[str], None] | None = None) -> RekeyResult:
    """Re-MAC every entry whose MAC is under key `old` with key `new`, in batches of
    `batch` (each its own transaction, so an interrupted run is resumed by running it
    again: only MACs still under `old` are read). Each entry is verified first: its MAC
    under `old` and its hash against its stored header (previous hash, number, content
    hash, poster, time). An entry that fails is REFUSED — left with its old MAC, so
    verify_ledger still names it — and named in the result (up to `limit`): re-MACing
    it would launder the tampering. The new MAC covers exactly what the old one did
    (year, number, hash), so nothing that verified before is changed in meaning."""
    from django.db import transaction

    from finance.ledger import chain_hash
    from finance.models import Entry

    check_rekey_keys(old, new)
    result = RekeyResult("entries")
    last_id = 0
    while True:
        with transaction.atomic():
            macs = list(EntryMac.objects.select_for_update()
                        .filter(key_id=old, entry_id__gt=last_id).order_by("entry_id")[:batch])
            if not macs:
                break
            entries = Entry.objects.in_bulk([m.entry_id for m in macs])
            changed = []
            for m in macs:
                e = entries[m.entry_id]
                name = f"entry {e.fiscal_year}-{e.number} (id {e.pk})"
                result.checked += 1
                why = entry_mac_ok(year=e.fiscal_year, number=e.number, entry_hash=e.hash,
                                   key_id=old, mac=m.mac)
                if why is None and chain_hash(prev_hash=e.prev_hash, number=e.number,
                                              content_hash=e.content_hash,
                                              posted_by=e.posted_by_id,
                                              posted_at=e.posted_at) != e.hash:
                    why = "entry hash does not match its header (previous hash, content hash, " \
                          "poster or time changed)"
                if why:
                    result.refuse(name, why, limit)
                    continue
                m.key_id, m.mac = entry_mac(year=e.fiscal_year, number=e.number,
                                            entry_hash=e.hash, key_id=new)
                changed.append(m)
            if not dry_run:
                EntryMac.objects.bulk_update(changed, ["key_id", "mac"])
            result.rekeyed += len(changed)
            last_id = macs[-1].entry_id
        if progress:
            progress(f"entries: {result.checked} checked, {result.rekeyed} "
                     f"{'would be ' if dry_run else ''}rekeyed, {result.refused} refused "
                     f"(up to id {last_id})")
    return result
