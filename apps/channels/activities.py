"""Channel activities (email, SMS, push, direct mail), registered with campaigns'
activity registry in ChannelsConfig.ready(). They receive their recipients as a
working table: one message per profile, or one per target row (one email per booking)
addressed through the link to its profile. The messages layer (apps/channels) decides
who gets one and why the others do not, in one SQL classification:

- a test run counts recipients and exclusions by reason, and renders a few samples;
- a live run creates the delivery and its message rows with one INSERT ... SELECT and
  starts the sending tasks when the run's transaction commits.
The activity's output is the recipients (for later activities)."""

from __future__ import annotations

from django.db import connection
from psycopg import sql

from apps.campaigns.activities import Activity, SettingsError

from . import content as content_mod
from . import ledger, policy
from .personalization import TemplateProblem

ADDRESS_ROLES = ledger.ADDRESS_ROLES
# The exclusion reasons of the classification, as the run page words them.
REASONS = {
    "no_address": "No address",
    "invalid_address": "Invalid address",
    "duplicate_address": "Duplicate address",
    "no_consent": "No consent",
    "suppressed": "Suppressed",
    "frequency_cap": "Frequency cap",
    "quiet_hours": "Quiet hours",
}
HEADER_FIELDS = ("from_email", "reply_to", "from_name", "subject")  # an email's one-line fields
# The "no address on this channel" outlet (setting no_address_outlet): the rows this channel
# cannot reach at all, so that another channel can (push: a profile without an active device).
NO_ADDRESS = "no_address"
NO_ADDRESS_REASONS = ("no_address", "invalid_address", "invalid_phone", "no_region")


class Channel(Activity):
    sends = True
    catalog_order = 10  # the channel activities open the palette
    report_template = "channels/_activity_report.html"
    channel: str

    def outlets(self, settings):
        return ["out", NO_ADDRESS] if settings.get("no_address_outlet") is True else ["out"]

    def outlet_labels(self, settings):
        return {NO_ADDRESS: "No address on this channel"}

    def report_details(self, report):
        from .models import PushPlatform  # noqa: PLC0415

        push = report.get("push") or {}
        platforms = dict(PushPlatform.choices)
        return {"excluded": [(REASONS.get(k, k.replace("_", " ").capitalize()), v)
                             for k, v in (report.get("excluded") or {}).items()],
                "push_platforms": [(k, platforms.get(k, k), n) for k, n in (push.get("by_platform") or {}).items()],
                "samples": report.get("samples") or [], "sms": _sms_figures(report.get("sms"))}

    def check(self, settings, input_entities, schema):
        for name in ("no_address_outlet", "track_clicks", "track_opens"):
            if name in settings and not isinstance(settings[name], bool):
                raise SettingsError(f"{name} is true or false.")
        entity = schema.entities[input_entities[0]]
        try:
            path = ledger.profile_path(schema, entity, settings.get("profile_link") or None)
        except ledger.AudienceError as exc:
            raise SettingsError(f"a {self.label} goes to profiles: {exc}") from exc
        profile = path[-1].target if path else entity
        if settings.get("content") or settings.get("template_id"):
            try:
                content = content_mod.resolve(schema.workspace, self.channel, settings)
            except TemplateProblem as exc:
                raise SettingsError(str(exc)) from exc
            names = content_mod.model_names(schema, entity, profile)
            problems = content_mod.problems(self.channel, content, names, require=False)
            if problems:
                raise SettingsError("; ".join(str(p) for p in problems))
        return {outlet: entity.key for outlet in self.outlets(settings)}

    def publish_check(self, settings, input_entities, schema):
        if self.channel == "sms":
            problem = _sms_unconfigured(schema.workspace)
            if problem:
                raise SettingsError(problem)
        entity = schema.entities[input_entities[0]]
        path = ledger.profile_path(schema, entity, settings.get("profile_link") or None)
        profile = path[-1].target if path else entity
        try:
            content = content_mod.resolve(schema.workspace, self.channel, settings)
        except TemplateProblem as exc:
            raise SettingsError(str(exc)) from exc
        problems = content_mod.problems(self.channel, content, content_mod.model_names(schema, entity, profile))
        if problems:
            raise SettingsError("; ".join(str(p) for p in problems))
        if self.channel == "email":
            from .senders import sender_problem  # noqa: PLC0415

            refused = sender_problem(workspace=schema.workspace, from_email=content.get("from_email") or "")
            if refused:
                raise SettingsError(f"from_email: {refused}")
        # consent's settings (topic, frequency caps), through the send policy channels declares
        problem = policy.current().settings_problem(schema.workspace, self.channel, settings)
        if problem:
            raise SettingsError(problem)

    def run(self, ctx):
        from . import services  # noqa: PLC0415

        source = ctx.inputs[0]
        target = ctx.entity(source.entity)
        try:
            audience = ledger.audience_for(ctx.workspace, ctx.schema, self.channel, target, ctx.node["settings"])
        except ledger.AudienceError as exc:
            raise SettingsError(str(exc)) from exc
        settings = ctx.node["settings"]
        content = None
        if not ctx.test_mode or settings.get("content") or settings.get("template_id"):
            try:
                content = content_mod.resolve(ctx.workspace, self.channel, settings)
            except TemplateProblem as exc:
                raise SettingsError(str(exc)) from exc
            if not ctx.test_mode:
                problems = content_mod.problems(self.channel, content, content_mod.model_names(
                    ctx.schema, target, audience.profile))
                if problems:
                    raise SettingsError(f"{self.label}: " + "; ".join(str(p) for p in problems))
            if self.channel == "sms" and not ctx.test_mode and _sms_unconfigured(ctx.workspace):
                raise SettingsError(f"{self.label}: {_sms_unconfigured(ctx.workspace)}")
        scratch = ctx.ident(ctx.table_name("_classified"))
        ledger.classify_into(audience, ctx.ident(source.table), scratch, ctx.execute)
        counts = ctx.scalar(sql.SQL(
            "SELECT json_object_agg(k, n) FROM (SELECT CASE WHEN reason IS NOT NULL THEN reason "
            "WHEN defer_until IS NOT NULL THEN '+quiet_hours' ELSE '' END AS k, count(*) n FROM {} GROUP BY 1) x").format(
            scratch)) or {}
        reasons = {k: int(v) for k, v in counts.items() if k and not k.startswith("+")}
        deferred = int(counts.get("+quiet_hours", 0))
        report = {"channel": self.channel, "recipients": int(counts.get("", 0)) + deferred, "excluded": reasons,
                  "test_mode": ctx.test_mode, "per_row": audience.per_row, "profile": audience.profile.key}
        if deferred:
            report["deferred"] = {"quiet_hours": deferred}
        enrichment = [c for c in _columns(ctx, source.table) if c != "key"]
        options = services.delivery_options(audience, settings, source.table, enrichment, ctx.run.variables)
        if getattr(ctx.run, "site_url", ""):
            options["site_url"] = ctx.run.site_url  # the address the run was started on
        if self.channel == "push":
            report["push"] = _push_counts(ctx, scratch)
        if ctx.test_mode and content is not None:
            # What the first recipients would get, rendered with their real data.
            from .models import Delivery  # noqa: PLC0415
            from .sending import sample_renders  # noqa: PLC0415

            preview = Delivery(workspace=ctx.workspace, channel=self.channel, content=content, options=options)
            report["samples"] = sample_renders(preview, sql.SQL(
                "SELECT row_number() OVER (ORDER BY target_key, address) AS id, address, 0 AS attempts, "
                "profile_key::text, target_key::text FROM {} WHERE reason IS NULL ORDER BY target_key, address "
                "LIMIT 3").format(scratch))
            if self.channel == "sms":
                report["sms"] = _sms_estimate(ctx.workspace, report["samples"], report["recipients"])
            if self.channel == "push":
                _push_sample_notes(ctx.workspace, content, report["samples"])
        if not ctx.test_mode:
            delivery = services.delivery_create(
                workspace=ctx.workspace, channel=self.channel, content=content, options=options,
                name=f"{ctx.run.campaign.name} · {ctx.node.get('label') or self.label} ({ctx.node['id']})",
                classified=sql.SQL("SELECT target_key, profile_key, address, reason, defer_until FROM {}").format(
                    scratch),
                run=ctx.run, node_id=ctx.node["id"], campaign=ctx.run.campaign, actor=ctx.run.created_by)
            report["delivery"] = delivery.pk
        # Push sends one message per device: a profile with two devices is one output row.
        out = ctx.create_table("out", target.key, sql.SQL("SELECT {} target_key FROM {} WHERE reason IS NULL").format(
            sql.SQL("DISTINCT") if self.channel == "push" else sql.SQL(""), scratch))
        outlets = {"out": out, **self._extra_outlets(ctx, target, scratch)}
        ctx.execute(sql.SQL("DROP TABLE {}").format(scratch))
        ctx.activity_run.report = report
        return outlets

    def _extra_outlets(self, ctx, target, scratch) -> dict:
        """The no_address outlet when the settings ask for it: the rows excluded for want of
        an address on this channel (in test runs too, so their counts show)."""
        if NO_ADDRESS not in self.outlets(ctx.node["settings"]):
            return {}
        return {NO_ADDRESS: ctx.create_table(NO_ADDRESS, target.key, sql.SQL(
            "SELECT DISTINCT target_key FROM {} WHERE reason = ANY({})").format(
            scratch, sql.Literal(list(NO_ADDRESS_REASONS))))}


def _sms_estimate(workspace, samples: list[dict], recipients: int) -> dict:
    """Segments of the rendered samples and the cost estimate at the workspace's price per
    segment (the samples' average segments times the recipients)."""
    from . import smstext  # noqa: PLC0415
    from .models import ChannelConfig  # noqa: PLC0415

    config = ChannelConfig.objects.filter(workspace=workspace, channel="sms").only("options").first()
    options = (config.options or {}) if config else {}
    price, limit = options.get("price_per_segment"), options.get("max_segments") or smstext.MAX_SEGMENTS_CEILING
    segments = [s["sms"]["segments"] for s in samples if "sms" in s]
    average = sum(segments) / len(segments) if segments else 0
    over = [s["address"] for s in samples if "sms" in s and s["sms"]["segments"] > limit]
    return {"segments": max(segments, default=0), "max_segments": limit, "price_per_segment": price,
            "estimated_cost": smstext.cost(round(average * recipients), price), "over_limit": over}


def _sms_figures(estimate: dict | None) -> dict | None:
    """The SMS estimate with its price and cost written out for the run page."""
    if not estimate:
        return None
    from .smstext import amount_text  # noqa: PLC0415

    return {**estimate, "price_text": amount_text(estimate.get("price_per_segment")),
            "cost_text": amount_text(estimate.get("estimated_cost"))}


def _push_counts(ctx, scratch: sql.Composable) -> dict:
    """The devices a push goes to (one message each), the profiles with a device, and the
    devices by platform, counted over the active subscriptions the classification chose."""
    from .models import PushSubscription  # noqa: PLC0415

    found = ctx.scalar(sql.SQL(
        "SELECT json_build_object('devices', count(*), 'profiles', count(DISTINCT c.profile_key), "
        "'by_platform', coalesce((SELECT json_object_agg(platform, n ORDER BY platform) FROM (SELECT s2.platform, "
        "count(*) n FROM {c} c2 JOIN {subs} s2 ON s2.id = c2.address::bigint WHERE c2.reason IS NULL GROUP BY 1) p), "
        "'{{}}'::json)) FROM {c} c WHERE c.reason IS NULL").format(
        c=scratch, subs=sql.Identifier(PushSubscription._meta.db_table))) or {}
    return {"devices": int(found.get("devices") or 0), "profiles": int(found.get("profiles") or 0),
            "by_platform": {k: int(v) for k, v in (found.get("by_platform") or {}).items()}}


def _push_sample_notes(workspace, content: dict, samples: list[dict]) -> None:
    """Each push sample as its device shows it: the platform, and the fields with that
    platform's overrides (content_forms.push_cards)."""
    from .content_forms import push_cards  # noqa: PLC0415
    from .models import PushSubscription  # noqa: PLC0415

    ids = [int(s["address"]) for s in samples if str(s.get("address") or "").isdigit()]
    platforms = dict(PushSubscription.objects.filter(workspace=workspace, pk__in=ids).values_list("pk", "platform"))
    for sample in samples:
        platform = platforms.get(int(sample["address"])) if str(sample.get("address") or "").isdigit() else None
        sample["platform"] = platform or ""
        if "error" not in sample and platform:
            card = next(c for c in push_cards(sample, content) if c["platform"] == platform)
            sample["note"] = {k: card[k] for k in ("title", "text", "url", "image_url")} | {"data": dict(card["data"])}


def _sms_unconfigured(workspace) -> str:
    """Why a live SMS cannot go ("" when the workspace has an SMS provider)."""
    from .models import ChannelConfig  # noqa: PLC0415

    if ChannelConfig.objects.filter(workspace=workspace, channel="sms", backend__in=("twilio", "vonage")).exists():
        return ""
    return ("no SMS provider is configured: choose Twilio or Vonage in the workspace's SMS settings, or test-run "
            "the campaign instead.")


def _columns(ctx, table: str) -> list[str]:
    from apps.core.sqlutil import workspace_schema  # noqa: PLC0415

    with connection.cursor() as cursor:
        cursor.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND "
                       "table_name = %s ORDER BY ordinal_position", [workspace_schema(ctx.workspace.pk), table])
        return [r[0] for r in cursor.fetchall()]


class Email(Channel):
    type, label, channel = "email", "Email", "email"
    settings_schema_description = ("An email's header fields are one line each: a line break or NUL in them would "
                                   "add headers or start the body.")
    settings_schema = {"properties": {"content": {"properties": {
        field: {"$ref": "#/$defs/headerText"} for field in HEADER_FIELDS}}}}
    schema_defs = {"headerText": {
        "description": "One line of text for an email header (no CR, LF or NUL), or a trigger variable placeholder.",
        "anyOf": [
            {"type": "string", "pattern": "^[^\\r\\n\\u0000]*$"},
            {"$ref": "#/$defs/variable"},
        ],
    }}

    def schema_message(self, error):
        field = error.path[-1] if error.path else None
        if error.validator == "anyOf" and field in HEADER_FIELDS:  # $defs/headerText
            return (f"{field} must be one line of text (line breaks and NUL characters are not allowed in an email "
                    "header) or a trigger variable")
        return None


class Sms(Channel):
    type, label, channel = "sms", "SMS", "sms"


class Push(Channel):
    type, label, channel = "push", "Push", "push"
    settings_schema = {"properties": {"push_devices": {
        "enum": ["all", "newest"],
        "description": "all: one message to each of the profile's active devices (default); newest: only to the "
                       "device seen last."}}}


class DirectMail(Channel):
    type, label, channel = "direct_mail", "Direct mail", "direct_mail"


# Registered in this order (ChannelsConfig.ready()): the palette lists them so.
ACTIVITIES: tuple[type[Channel], ...] = (Email, Sms, Push, DirectMail)
