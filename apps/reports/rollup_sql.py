"""The SQL that keeps the rollups, installed by migration 0002 (kept here, beside the
models it fills, so a later migration can install a changed version).

Triggers are statement-level with transition tables: one INSERT of aggregated deltas per
UPDATE or INSERT statement on the ledger, whatever its size. Deltas are insert-only so two
sending tasks of one delivery never wait on a shared counter row; `reports_compact()`
folds them into the rollups under a transaction advisory lock (one folder at a time)."""

# Message state changes worth counting. A hard bounce after sending turns a sent message
# failed: that is counted by its event ("bounced"), not as a send failure. Exclusions here
# are the ones made just before sending (consent checked again); those made when the
# delivery was created are in Delivery.counts.
MESSAGE_FUNCTION = r"""
CREATE OR REPLACE FUNCTION reports_message_changed() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  INSERT INTO reports_rollupdelta (workspace_id, delivery_id, kind, hour, key, metric, n, uniq)
  SELECT c.workspace_id, c.delivery_id, x.kind, x.hour, x.key, x.metric, count(*), 0
  FROM (
    SELECT n.workspace_id, n.delivery_id, n.status, n.reason, n.address,
           date_trunc('hour', CASE WHEN n.status = 'sent' THEN coalesce(n.sent_at, now()) ELSE now() END) AS hour
    FROM reports_new n JOIN reports_old o ON o.id = n.id
    WHERE n.status IS DISTINCT FROM o.status
      AND (n.status IN ('sent', 'expired', 'cancelled', 'excluded') OR (n.status = 'failed' AND o.status <> 'sent'))
  ) c
  CROSS JOIN LATERAL (VALUES
    ('hour', c.hour, c.status, ''),
    ('hour', c.hour, CASE WHEN c.status IN ('failed', 'excluded')
                          THEN c.status || ':' || left(coalesce(nullif(c.reason, ''), 'unknown'), 40) END, ''),
    ('domain', NULL::timestamptz,
     CASE WHEN c.status = 'sent' AND position('@' IN c.address) > 0
          THEN left(lower(split_part(c.address, '@', 2)), 253) END, 'sent')
  ) AS x(kind, hour, key, metric)
  WHERE x.key IS NOT NULL
  GROUP BY 1, 2, 3, 4, 5, 6;
  RETURN NULL;
END $f$;
"""

# Events: every event counts once in its hour; a message's first event of a type also as
# "<type>_unique" (and per recipient domain); flagged machine opens/clicks (data.machine,
# set by channels.events) as "<type>_machine", a message's first open/click by a person
# as "<type>_human_unique"; clicks per link without query string.
EVENT_FUNCTION = r"""
CREATE OR REPLACE FUNCTION reports_record_events(ids bigint[]) RETURNS void LANGUAGE sql AS $f$
  INSERT INTO reports_rollupdelta (workspace_id, delivery_id, kind, hour, key, metric, n, uniq)
  SELECT c.workspace_id, c.delivery_id, x.kind, x.hour, x.key, x.metric, sum(x.n), sum(x.u)
  FROM (
    SELECT e.workspace_id, m.delivery_id, e.type, date_trunc('hour', e.at) AS hour, m.address,
           coalesce(e.data ->> 'machine', '') <> '' AS machine,
           NOT EXISTS (SELECT 1 FROM channels_messageevent p
                       WHERE p.message_id = e.message_id AND p.type = e.type AND p.id < e.id) AS first,
           coalesce(e.data ->> 'machine', '') = '' AND e.type IN ('open', 'click') AND NOT EXISTS (
             SELECT 1 FROM channels_messageevent p WHERE p.message_id = e.message_id AND p.type = e.type
             AND p.id < e.id AND coalesce(p.data ->> 'machine', '') = '') AS first_human,
           CASE WHEN e.type = 'click' AND coalesce(e.data ->> 'url', '') <> ''
                THEN left(split_part(split_part(e.data ->> 'url', '#', 1), '?', 1), 2000) END AS url,
           e.type = 'click' AND NOT EXISTS (
             SELECT 1 FROM channels_messageevent p WHERE p.message_id = e.message_id AND p.type = 'click'
             AND p.id < e.id AND split_part(split_part(p.data ->> 'url', '#', 1), '?', 1)
                                 = split_part(split_part(e.data ->> 'url', '#', 1), '?', 1)) AS first_url
    FROM channels_messageevent e JOIN channels_message m ON m.id = e.message_id
    WHERE e.id = ANY(ids)
  ) c
  CROSS JOIN LATERAL (VALUES
    ('hour', c.hour, c.type, '', 1, 0),
    ('hour', c.hour, CASE WHEN c.first THEN c.type || '_unique' END, '', 1, 0),
    ('hour', c.hour, CASE WHEN c.machine THEN c.type || '_machine' END, '', 1, 0),
    ('hour', c.hour, CASE WHEN c.first_human THEN c.type || '_human_unique' END, '', 1, 0),
    ('domain', NULL::timestamptz, CASE WHEN c.first AND position('@' IN c.address) > 0
                                       THEN left(lower(split_part(c.address, '@', 2)), 253) END, c.type, 1, 0),
    ('link', NULL::timestamptz, c.url, '', 1, CASE WHEN c.first_url THEN 1 ELSE 0 END)
  ) AS x(kind, hour, key, metric, n, u)
  WHERE x.key IS NOT NULL
  GROUP BY 1, 2, 3, 4, 5, 6;
$f$;

CREATE OR REPLACE FUNCTION reports_event_recorded() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM reports_record_events(ARRAY(SELECT id FROM reports_new));
  RETURN NULL;
END $f$;
"""

COMPACT_FUNCTION = r"""
CREATE OR REPLACE FUNCTION reports_compact() RETURNS bigint LANGUAGE plpgsql AS $f$
DECLARE folded bigint;
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtext('orchestrate.reports.compact')) THEN
    RETURN 0;
  END IF;
  WITH gone AS (
    DELETE FROM reports_rollupdelta d
    WHERE EXISTS (SELECT 1 FROM channels_delivery v WHERE v.id = d.delivery_id) RETURNING d.*
  ), h AS (
    INSERT INTO reports_deliveryrollup AS r (workspace_id, delivery_id, hour, metric, n)
    SELECT workspace_id, delivery_id, hour, key, sum(n) FROM gone WHERE kind = 'hour'
    GROUP BY 1, 2, 3, 4 ORDER BY 2, 3, 4
    ON CONFLICT (delivery_id, hour, metric) DO UPDATE SET n = r.n + excluded.n
  ), dm AS (
    INSERT INTO reports_domainrollup AS r (workspace_id, delivery_id, domain, metric, n)
    SELECT workspace_id, delivery_id, key, metric, sum(n) FROM gone WHERE kind = 'domain'
    GROUP BY 1, 2, 3, 4 ORDER BY 2, 3, 4
    ON CONFLICT (delivery_id, domain, metric) DO UPDATE SET n = r.n + excluded.n
  ), l AS (
    INSERT INTO reports_linkrollup AS r (workspace_id, delivery_id, url, total, uniq)
    SELECT workspace_id, delivery_id, key, sum(n), sum(uniq) FROM gone WHERE kind = 'link'
    GROUP BY 1, 2, 3 ORDER BY 2, 3
    ON CONFLICT (delivery_id, url) DO UPDATE SET total = r.total + excluded.total, uniq = r.uniq + excluded.uniq
  )
  SELECT count(*) INTO folded FROM gone;
  -- Deltas of deleted deliveries have nowhere to go.
  DELETE FROM reports_rollupdelta d WHERE NOT EXISTS (SELECT 1 FROM channels_delivery v WHERE v.id = d.delivery_id);
  RETURN folded;
END $f$;
"""

# Read views: what is folded plus what is not yet.
VIEWS = r"""
CREATE OR REPLACE VIEW reports_hourly AS
  SELECT workspace_id, delivery_id, hour, metric, n FROM reports_deliveryrollup
  UNION ALL
  SELECT workspace_id, delivery_id, hour, key, n FROM reports_rollupdelta WHERE kind = 'hour';
CREATE OR REPLACE VIEW reports_domains AS
  SELECT workspace_id, delivery_id, domain, metric, n FROM reports_domainrollup
  UNION ALL
  SELECT workspace_id, delivery_id, key, metric, n FROM reports_rollupdelta WHERE kind = 'domain';
CREATE OR REPLACE VIEW reports_links AS
  SELECT workspace_id, delivery_id, url, total, uniq FROM reports_linkrollup
  UNION ALL
  SELECT workspace_id, delivery_id, key, n, uniq FROM reports_rollupdelta WHERE kind = 'link';
"""

TRIGGERS = r"""
CREATE TRIGGER reports_message_changed AFTER UPDATE ON channels_message
  REFERENCING OLD TABLE AS reports_old NEW TABLE AS reports_new
  FOR EACH STATEMENT EXECUTE FUNCTION reports_message_changed();
CREATE TRIGGER reports_event_recorded AFTER INSERT ON channels_messageevent
  REFERENCING NEW TABLE AS reports_new
  FOR EACH STATEMENT EXECUTE FUNCTION reports_event_recorded();
"""

INSTALL = MESSAGE_FUNCTION + EVENT_FUNCTION + COMPACT_FUNCTION + VIEWS + TRIGGERS

UNINSTALL = r"""
DROP TRIGGER IF EXISTS reports_message_changed ON channels_message;
DROP TRIGGER IF EXISTS reports_event_recorded ON channels_messageevent;
DROP VIEW IF EXISTS reports_hourly, reports_domains, reports_links;
DROP FUNCTION IF EXISTS reports_compact(), reports_event_recorded(), reports_record_events(bigint[]),
  reports_message_changed();
"""

# What happened before the triggers existed: sends by the hour they were sent, failures,
# expiries and cancellations in the delivery's creation hour, and every event.
BACKFILL = r"""
INSERT INTO reports_rollupdelta (workspace_id, delivery_id, kind, hour, key, metric, n, uniq)
SELECT m.workspace_id, m.delivery_id, 'hour', date_trunc('hour', m.sent_at), 'sent', '', count(*), 0
FROM channels_message m WHERE m.sent_at IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO reports_rollupdelta (workspace_id, delivery_id, kind, hour, key, metric, n, uniq)
SELECT m.workspace_id, m.delivery_id, 'domain', NULL::timestamptz, left(lower(split_part(m.address, '@', 2)), 253), 'sent',
       count(*), 0
FROM channels_message m WHERE m.sent_at IS NOT NULL AND position('@' IN m.address) > 0 GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO reports_rollupdelta (workspace_id, delivery_id, kind, hour, key, metric, n, uniq)
SELECT m.workspace_id, m.delivery_id, 'hour', date_trunc('hour', d.created_at), x.key, '', count(*), 0
FROM channels_message m JOIN channels_delivery d ON d.id = m.delivery_id
CROSS JOIN LATERAL (VALUES (m.status::text),
  (CASE WHEN m.status = 'failed' THEN 'failed:' || left(coalesce(nullif(m.reason, ''), 'unknown'), 40) END)) AS x(key)
WHERE m.sent_at IS NULL AND m.status IN ('failed', 'expired', 'cancelled') AND x.key IS NOT NULL
GROUP BY 1, 2, 3, 4, 5, 6;
SELECT reports_record_events(ARRAY(SELECT id FROM channels_messageevent));
SELECT reports_compact();
"""

# Since migration 0004: a row trigger. The WHEN condition is checked in the executor for
# every updated row (no function call for claims, renewals and attempts); a row whose
# state changes to a counted one appends its deltas, one INSERT of one to three rows.
MESSAGE_ROW_FUNCTION = r"""
CREATE OR REPLACE FUNCTION reports_message_row() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE bucket timestamptz := date_trunc('hour', CASE WHEN NEW.status = 'sent' THEN coalesce(NEW.sent_at, now())
                                                      ELSE now() END);
BEGIN
  INSERT INTO reports_rollupdelta (workspace_id, delivery_id, kind, hour, key, metric, n, uniq)
  SELECT NEW.workspace_id, NEW.delivery_id, x.kind, x.hour, x.key, x.metric, 1, 0
  FROM (VALUES
    ('hour', bucket, NEW.status::text, ''),
    ('hour', bucket, CASE WHEN NEW.status IN ('failed', 'excluded')
                          THEN NEW.status || ':' || left(coalesce(nullif(NEW.reason, ''), 'unknown'), 40) END, ''),
    ('domain', NULL::timestamptz,
     CASE WHEN NEW.status = 'sent' AND position('@' IN NEW.address) > 0
          THEN left(lower(split_part(NEW.address, '@', 2)), 253) END, 'sent')
  ) AS x(kind, hour, key, metric)
  WHERE x.key IS NOT NULL;
  RETURN NULL;
END $f$;
"""

MESSAGE_ROW_INSTALL = MESSAGE_ROW_FUNCTION + r"""
DROP TRIGGER IF EXISTS reports_message_changed ON channels_message;
CREATE TRIGGER reports_message_row AFTER UPDATE OF status ON channels_message FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status
        AND (NEW.status IN ('sent', 'expired', 'cancelled', 'excluded')
             OR (NEW.status = 'failed' AND OLD.status <> 'sent')))
  EXECUTE FUNCTION reports_message_row();
"""

# Since migration 0005: a sent SMS also adds its segments (Message.segments) to the hour's
# "segments" metric, what the report's cost is reckoned from.
MESSAGE_ROW_FUNCTION_SEGMENTS = r"""
CREATE OR REPLACE FUNCTION reports_message_row() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE bucket timestamptz := date_trunc('hour', CASE WHEN NEW.status = 'sent' THEN coalesce(NEW.sent_at, now())
                                                      ELSE now() END);
BEGIN
  INSERT INTO reports_rollupdelta (workspace_id, delivery_id, kind, hour, key, metric, n, uniq)
  SELECT NEW.workspace_id, NEW.delivery_id, x.kind, x.hour, x.key, x.metric, x.n, 0
  FROM (VALUES
    ('hour', bucket, NEW.status::text, '', 1),
    ('hour', bucket, CASE WHEN NEW.status IN ('failed', 'excluded')
                          THEN NEW.status || ':' || left(coalesce(nullif(NEW.reason, ''), 'unknown'), 40) END, '', 1),
    ('domain', NULL::timestamptz,
     CASE WHEN NEW.status = 'sent' AND position('@' IN NEW.address) > 0
          THEN left(lower(split_part(NEW.address, '@', 2)), 253) END, 'sent', 1),
    ('hour', bucket, CASE WHEN NEW.status = 'sent' AND NEW.segments > 0 THEN 'segments' END, '',
     coalesce(NEW.segments, 0))
  ) AS x(kind, hour, key, metric, n)
  WHERE x.key IS NOT NULL;
  RETURN NULL;
END $f$;
"""

MESSAGE_ROW_UNINSTALL = r"""
DROP TRIGGER IF EXISTS reports_message_row ON channels_message;
DROP FUNCTION IF EXISTS reports_message_row();
CREATE TRIGGER reports_message_changed AFTER UPDATE ON channels_message
  REFERENCING OLD TABLE AS reports_old NEW TABLE AS reports_new
  FOR EACH STATEMENT EXECUTE FUNCTION reports_message_changed();
"""
