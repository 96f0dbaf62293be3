"""The audit log in words: "Loaded Customers: 1,204 added, 3 rejected" rather than
`datamodel.ingestion_done` and a Python dict. One sentence per verb, filled with the
event's target and data; a verb without a sentence (or whose data lacks a value the
sentence needs) is humanized ("Ingestion done · Customers"). Used everywhere the log is
shown: the audit page, the API (`summary`) and the Django admin.

The verbs are those every app writes through tenants.services.audit_record; this table
only names them, so it imports nothing from the apps above tenants."""

from __future__ import annotations

from typing import Any

MAX_TEXT = 200  # a value from tenant data, cut: a sentence stays a line

SENTENCES: dict[str, str] = {
    # workspace and people
    "workspace.created": "Created the workspace {target}",
    "workspace.updated": "Changed the settings of {target}: {changes}",
    "workspace.archived": "Archived the workspace {target}",
    "workspace.restored": "Restored the workspace {target}",
    "workspace.logo_changed": "Changed the logo of {target}",
    "workspace.logo_removed": "Removed the logo of {target}",
    "member.added": "Added {target} as {new}",
    "member.role_changed": "Changed the role of {target} from {old} to {new}",
    "member.removed": "Removed {target} from the workspace",
    "member.invited": "Invited {email} as {role}",
    "member.invitation_cancelled": "Cancelled the invitation of {target}",
    "api_key.created": "Created the API key {target} with the {role} role",
    "api_key.revoked": "Revoked the API key {target}",
    # data model
    "datamodel.entity_created": "Created the entity {target} with the attributes {attributes}",
    "datamodel.entity_updated": "Changed the entity {target}",
    "datamodel.entity_deleted": "Deleted the entity {target}",
    "datamodel.attribute_added": "Added the attribute {target} ({type})",
    "datamodel.attribute_updated": "Changed the attribute {target}: {changes}",
    "datamodel.attribute_deleted": "Deleted the attribute {target}",
    "datamodel.relationship_created": "Linked {target}",
    "datamodel.relationship_deleted": "Removed the link {target}",
    "datamodel.addresses_mapped": "Mapped the channel addresses of {target}: {changes}",
    "datamodel.record_deleted": "Deleted the record {key} of {target}",
    "datamodel.ingestion_queued": "Uploaded {file} ({bytes}) into {entity}",
    "datamodel.ingestion_done": "Loaded {target}: {inserted} added, {updated} updated, {deleted} deleted, "
                                "{rejected} rejected",
    # audiences
    "audience.created": "Created the audience {target} of {entity}",
    "audience.updated": "Changed the audience {target}",
    "audience.deleted": "Deleted the audience {target}",
    "audience.duplicated": "Duplicated an audience as {target}",
    "audience.snapshot_started": "Started a snapshot of the audience {target}",
    "audience.uploaded": "Uploaded a list into the audience {target}: {changes}",
    "audience.exported": "Exported the audience {target} ({attributes})",
    "audience.saved_by_campaign": "Run #{run} saved {size} rows into the audience {target}",
    # campaigns
    "campaign.created": "Created the campaign {target}",
    "campaign.updated": "Changed the {fields} of the campaign {target}",
    "campaign.deleted": "Deleted the campaign {target}",
    "campaign.published": "Published the campaign {target} as version {version}",
    "campaign.test_run": "Started test run #{run} of {target} (nothing is sent)",
    "campaign.started": "Started run #{run} of {target} ({trigger})",
    "campaign.run_stopped": "Stopped run #{run} of {target}: {cancelled} queued messages cancelled",
    "campaign.run_confirmed": "Confirmed run #{run} of {target}: it may send",
    "campaign.activity_retried": "Retried the activity {activity} of run #{run} of {target}",
    "campaign.completed": "The campaign {target} completed",
    "campaign.paused": "Paused the campaign {target}",
    "campaign.resumed": "Resumed the campaign {target}",
    "campaign.closed": "Closed the campaign {target}",
    "campaign.stopped": "Stopped the campaign {target}",
    "campaign.archived": "Archived the campaign {target}",
    # channels
    "email configuration saved": "Saved the email settings ({changed})",
    "sms configuration saved": "Saved the SMS settings ({changed})",
    "push configuration saved": "Saved the push settings ({changed})",
    "direct_mail configuration saved": "Saved the direct mail settings ({changed})",
    "push device deactivated": "Deactivated a {platform} push device",
    "sender_domain.added": "Added the sender domain {domain}",
    "sender_domain.link_sent": "Sent the confirmation link for {domain} to {to}",
    "sender_domain.verified": "Verified the sender domain {domain} (by {by})",
    "sender_domain.dns_checked": "Checked the DNS of {domain}: {result}",
    "sender_domain.deleted": "Deleted the sender domain {domain}",
    # consent and privacy
    "consent.granted": "Profile {profile_key} said yes to {topic} ({channel}, {source})",
    "consent.withdrawn": "Profile {profile_key} withdrew from {topic} ({channel}, {source})",
    "consent.imported": "Imported consents: {rows} rows, {granted} yes, {withdrawn} no, {skipped} skipped",
    "consent.topic.created": "Created the topic {target} ({channel}, {policy})",
    "consent.topic.updated": "Changed the topic {target}: {changed}",
    "consent.topic.deleted": "Deleted the topic {target} ({channel})",
    "consent.ruleset.created": "Created the rule set {name}",
    "consent.ruleset.updated": "Changed the rule set {target}",
    "consent.ruleset.deleted": "Deleted the rule set {name}",
    "consent.cap.added": "Added a frequency cap to {rule_set}: {limit} per {period} ({channel})",
    "consent.cap.removed": "Removed a frequency cap from {rule_set}: {limit} per {period} ({channel})",
    "consent.quiet_hours.updated": "Changed the quiet hours ({changed})",
    "consent.policy.updated": "Changed the consent policy ({changed})",
    "consent.inbound_sms.rotated": "Rotated the inbound SMS address (the old one works {grace_minutes} more minutes)",
    "suppression.added": "Suppressed {target} ({kind}, {reason})",
    "suppression.updated": "Changed the suppression of {target} ({kind}, {reason})",
    "suppression.removed": "Lifted the suppression of {target} ({kind})",
    "dsr.exported": "Exported everything kept about a person ({subject})",
    "dsr.erased": "Erased a person's data; the history is kept as {subject}",
    # reports
    "report.subscribed": "Subscribed {recipients} to the weekly report of {target} ({weekday} at {hour}:00)",
    "report.unsubscribed": "Stopped the weekly report of {target} for {recipients}",
}


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"


def value_text(value: Any, key: str = "") -> str:
    """A data value in words: lists as "a, b and c", numbers with separators, changes as
    "old → new", nothing as "—"."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        if key == "bytes":
            return _size(value)
        return f"{value:,}"
    if isinstance(value, list | tuple):
        items = [value_text(v) for v in value[:20]]
        if len(value) > 20:
            items.append(f"{len(value) - 20:,} more")
        if not items:
            return "none"
        return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    if isinstance(value, dict):
        if set(value) == {"old", "new"}:
            return f"{value_text(value['old'])} → {value_text(value['new'])}"
        return _cut("; ".join(f"{humanize(str(k))}: {value_text(v, str(k))}" for k, v in list(value.items())[:20]))
    text = str(value)
    return _cut(text) if text else "(empty)"


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} GB"  # pragma: no cover


def humanize(verb: str) -> str:
    """`datamodel.ingestion_done` -> "Ingestion done"; `consent.topic.created` -> "Topic created"."""
    words = verb.split(".", 1)[-1] if "." in verb else verb
    words = words.replace(".", " ").replace("_", " ").strip()
    return (words[:1].upper() + words[1:]) if words else "Event"


class _Values(dict):
    def __missing__(self, key):
        raise KeyError(key)


def summary(verb: str, target_repr: str, data: Any) -> str:
    """The event as one sentence."""
    data = data if isinstance(data, dict) else {}
    target = _cut(target_repr) if target_repr else "—"
    sentence = SENTENCES.get(verb)
    if sentence is not None:
        values = _Values({str(k): value_text(v, str(k)) for k, v in data.items()})
        values["target"] = target
        if "{changes}" in sentence:
            values["changes"] = value_text(data) if data else "nothing"
        try:
            return sentence.format_map(values)
        except (KeyError, IndexError, ValueError):
            pass  # an older event without a value the sentence names: said the plain way
    plain = humanize(verb)
    return f"{plain} · {target}" if target_repr else plain


def details(data: Any) -> list[str]:
    """The event's data as short lines: "Time zone: UTC → Europe/Amsterdam"."""
    if not isinstance(data, dict) or not data:
        return []
    if set(data) == {"old", "new"}:
        return [value_text(data)]
    return [f"{humanize(str(k))}: {value_text(v, str(k))}" for k, v in list(data.items())[:30]]
