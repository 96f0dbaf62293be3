"""Finding a data subject by email or phone, not only by key: the profile rows whose
mapped email (or phone) is that address, and the profiles messages went to at it (an
erased or changed row may have left only its messages).

Emails compare trimmed and lower-cased (as the messages ledger stores them). Phones
compare in E.164: the number asked for is normalized with the workspace's default
region; the profile rows are narrowed in SQL to those whose digits end with its national
number, and only those few are normalized (in the profile's country, else the default
region) and compared exactly. More than one profile is an Ambiguous answer that lists
their keys: an export or an erasure never guesses."""

from __future__ import annotations

from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.http import Http404
from psycopg import sql

from apps.channels import phones
from apps.channels.ledger import default_region
from apps.channels.models import Message
from apps.core.sqlutil import fetchall
from apps.datamodel import ddl
from apps.datamodel.models import AddressMapping
from apps.datamodel.schema import Schema

# Keys listed in an ambiguous answer (and profiles read per lookup): a person's address
# is shared by a few profiles at most; past this the list is cut, saying so.
MAX_KEYS = 20
# Profile rows whose digits end like the number asked for, normalized in Python.
MAX_PHONE_CANDIDATES = 500


class Ambiguous(Exception):
    """Several profiles have this address: `keys` (at most MAX_KEYS, `more` if cut)."""

    def __init__(self, field: str, value: str, keys: list[str]):
        self.field, self.value = field, value
        self.keys, self.more = keys[:MAX_KEYS], len(keys) > MAX_KEYS
        listed = ", ".join(self.keys) + (" and more" if self.more else "")
        super().__init__(f"{len(keys) if not self.more else f'More than {MAX_KEYS}'} profiles have the {field} "
                         f"{value}: {listed}. Choose one by its key.")


def _mappings(workspace) -> dict[str, Any]:
    return {m.role: m.attribute for m in AddressMapping.objects.filter(
        workspace=workspace, role__in=["email", "phone", "country"]).select_related("attribute")}


def _profile_table(workspace):
    schema = Schema.load(workspace)
    profile = next((e for e in schema.entities.values() if e.is_profile), None)
    return schema, profile


def keys_by_email(workspace, email: str) -> list[str]:
    """Keys of the profiles with this email (their row, or messages sent to it), sorted."""
    value = (email or "").strip().lower()
    if "@" not in value or len(value) > 320:
        raise ValidationError({"email": "An email address, like anna@example.com."})
    keys: set[str] = set()
    schema, profile = _profile_table(workspace)
    attribute = _mappings(workspace).get("email")
    if profile is not None and attribute is not None and attribute.entity_id == profile.pk:
        keys |= {row[0] for row in fetchall(sql.SQL(
            "SELECT t.{pk}::text FROM {table} t WHERE lower(btrim(t.{col}::text)) = %s LIMIT %s").format(
            pk=ddl.column(schema.pk(profile)), table=ddl.table(profile), col=ddl.column(attribute)),
            [value, MAX_KEYS + 1])}
    keys |= set(Message.objects.filter(workspace=workspace, delivery__channel="email", address=value)
                .exclude(profile_key="").values_list("profile_key", flat=True).distinct()[:MAX_KEYS + 1])
    return sorted(keys, key=_natural)


def keys_by_phone(workspace, phone: str) -> list[str]:
    """Keys of the profiles with this phone number (compared in E.164), sorted."""
    fallback = default_region(workspace)
    number, reason = phones.normalize((phone or "")[:40], fallback)
    if reason:
        raise ValidationError({"phone": f"{(phone or '')[:40]!r} is {phones.REASONS[reason]}."})
    national = str(phonenumbers.parse(number).national_number)
    keys: set[str] = set()
    schema, profile = _profile_table(workspace)
    mappings = _mappings(workspace)
    attribute, country = mappings.get("phone"), mappings.get("country")
    if profile is not None and attribute is not None and attribute.entity_id == profile.pk:
        region = (sql.SQL("coalesce(upper(btrim(t.{}::text)), '')").format(ddl.column(country))
                  if country is not None and country.entity_id == profile.pk else sql.SQL("''"))
        rows = fetchall(sql.SQL(
            "SELECT t.{pk}::text, btrim(t.{col}::text), {region} FROM {table} t "
            "WHERE regexp_replace(t.{col}::text, '[^0-9]', '', 'g') LIKE %s LIMIT %s").format(
            pk=ddl.column(schema.pk(profile)), col=ddl.column(attribute), region=region, table=ddl.table(profile)),
            ["%" + national, MAX_PHONE_CANDIDATES])
        mapped = phones.normalize_many((raw, region or fallback) for _key, raw, region in rows)
        keys |= {key for key, raw, region in rows if mapped[(raw, region or fallback)][0] == number}
    keys |= set(Message.objects.filter(workspace=workspace, delivery__channel="sms", address=number)
                .exclude(profile_key="").values_list("profile_key", flat=True).distinct()[:MAX_KEYS + 1])
    return sorted(keys, key=_natural)


def _natural(key: str) -> tuple:
    return (0, int(key), "") if key.isdigit() else (1, 0, key)


def one_key(workspace, *, email: str = "", phone: str = "") -> str:
    """The one profile key with this email or phone: Http404 for none, Ambiguous for
    several, ValidationError for an address that is not one."""
    field, value = ("email", email) if email else ("phone", phone)
    keys = keys_by_email(workspace, email) if email else keys_by_phone(workspace, phone)
    if not keys:
        raise Http404("Not found.")
    if len(keys) > 1:
        raise Ambiguous(field, value.strip(), keys)
    return keys[0]


def looks_like_phone(value: str) -> bool:
    digits = sum(c.isdigit() for c in value)
    return digits >= 6 and all(c.isdigit() or c in "+-(). " for c in value)


def find_subject(workspace, query: str):
    """The data subject a person typed: a profile key, else (when it is not one) an email
    or a phone number. Http404, Ambiguous or ValidationError as one_key."""
    from .dsr import access_subject  # noqa: PLC0415 - dsr is the larger module; it does not import this one

    query = (query or "").strip()[:320]
    try:
        return access_subject(workspace, query)
    except Http404:
        if "@" in query:
            return access_subject(workspace, one_key(workspace, email=query))
        if looks_like_phone(query):
            return access_subject(workspace, one_key(workspace, phone=query))
        raise
