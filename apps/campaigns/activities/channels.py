"""Channel activities (email, SMS, push, direct mail) as far as orchestration goes: they
receive their recipients as a working table, count who would get a message and who is
excluded and why, and pass the recipients on. Creating and sending the messages is the
messages layer's (apps/channels, to come); until it exists a LIVE run stops here with a
clear error instead of pretending to send. Test runs go through, as designed."""

from __future__ import annotations

from psycopg import sql

from apps.datamodel import ddl
from apps.datamodel.models import AddressMapping

from .base import Activity, SettingsError, register

# What each channel needs from the profile (address roles of the data model).
ADDRESS_ROLES = {
    "email": ["email"],
    "sms": ["phone"],
    "push": [],  # push devices come with the push provider
    "direct_mail": ["address_line1", "postal_code", "city"],
}


class Channel(Activity):
    sends = True
    channel: str

    def check(self, settings, input_entities, schema):
        entity = schema.entities[input_entities[0]]
        if not entity.is_profile:
            raise SettingsError(f"a {self.label} goes to profiles: its input holds {entity.key}, not the profile "
                                "dimension (add a Change dimension before it).")
        return {"out": entity.key}

    def run(self, ctx):
        source = ctx.inputs[0]
        entity = ctx.entity(source.entity)
        mappings = {m.role: m.attribute for m in AddressMapping.objects.filter(
            workspace=ctx.workspace, role__in=ADDRESS_ROLES[self.channel]).select_related("attribute")}
        pk = ddl.column(ctx.schema.pk(entity))
        missing_roles = [r for r in ADDRESS_ROLES[self.channel] if r not in mappings]
        reasons: dict[str, int] = {}
        if self.channel == "push" or missing_roles:
            reasons["no_address"] = source.count or 0
            recipients = sql.SQL("SELECT key FROM {} WHERE false").format(ctx.ident(source.table))
        else:
            cols = [ddl.column(mappings[r]) for r in ADDRESS_ROLES[self.channel]]
            empty = sql.SQL(" OR ").join(sql.SQL("coalesce(btrim(e.{}::text), '') = ''").format(c) for c in cols)
            if self.channel == "email":
                invalid = sql.SQL("e.{c} !~ '^[^@[:space:]]+@[^@[:space:]]+[.][^@[:space:]]+$'").format(c=cols[0])
                address = sql.SQL("lower(btrim(e.{}))").format(cols[0])
            elif self.channel == "sms":
                invalid = sql.SQL("regexp_replace(e.{c}, '[^0-9]', '', 'g') !~ '^[0-9]{{6,15}}$'").format(c=cols[0])
                address = sql.SQL("regexp_replace(e.{}, '[^0-9+]', '', 'g')").format(cols[0])
            else:
                invalid = sql.SQL("false")
                address = sql.SQL("concat_ws('|', {})").format(
                    sql.SQL(", ").join(sql.SQL("lower(btrim(e.{}::text))").format(c) for c in cols))
            classified = sql.SQL(
                "SELECT w.key, CASE WHEN {empty} THEN 'no_address' WHEN {invalid} THEN 'invalid_address' "
                "WHEN row_number() OVER (PARTITION BY {address} ORDER BY w.key) > 1 THEN 'duplicate_address' "
                "ELSE NULL END AS reason FROM {work} w LEFT JOIN {table} e ON e.{pk} = w.key").format(
                empty=empty, invalid=invalid, address=address, work=ctx.ident(source.table),
                table=ddl.table(entity), pk=pk)
            # Classify once into a scratch table; the counts and the recipients read it.
            scratch = ctx.ident(ctx.table_name("_classified"))
            ctx.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(scratch))
            ctx.execute(sql.SQL("CREATE UNLOGGED TABLE {} AS {}").format(scratch, classified))
            counts = ctx.scalar(sql.SQL("SELECT json_object_agg(coalesce(reason, 'recipient'), n) FROM "
                                        "(SELECT reason, count(*) n FROM {} GROUP BY reason) x").format(scratch))
            reasons = {k: int(v) for k, v in (counts or {}).items() if k != "recipient"}
            recipients = sql.SQL("SELECT key FROM {} WHERE reason IS NULL").format(scratch)
        out = ctx.create_table("out", entity.key, recipients)
        if not (self.channel == "push" or missing_roles):
            ctx.execute(sql.SQL("DROP TABLE {}").format(ctx.ident(ctx.table_name("_classified"))))
        ctx.activity_run.report = {"channel": self.channel, "recipients": out.count, "excluded": reasons,
                                   "test_mode": ctx.test_mode}
        if not ctx.test_mode:
            raise SettingsError(f"{self.label}: sending is not available yet in this version; run the campaign in "
                                "test mode to see who would receive it.")
        return {"out": out}


@register
class Email(Channel):
    type, label, channel = "email", "Email", "email"


@register
class Sms(Channel):
    type, label, channel = "sms", "SMS", "sms"


@register
class Push(Channel):
    type, label, channel = "push", "Push", "push"


@register
class DirectMail(Channel):
    type, label, channel = "direct_mail", "Direct mail", "direct_mail"
