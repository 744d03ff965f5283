-- 0002_explanations: why a score is what it is, and what sales should do.
--
-- New columns on score_changes and account_scores, and two new tables:
-- handoffs (leads and accounts entering the mql stage, with the advice for
-- sales) and score_events (the events behind a score, with what each rule
-- earned: the history `leadscore explain` lists).
--
-- ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS, so each ALTER adds one
-- column, plainly, and the migration runner (sinks.Migrate) skips an ALTER
-- whose column the table already has: the file stays safe to run twice on
-- every release. Rows written before this migration read the new columns'
-- defaults: 0, '' and [], except reasons_count, which reads one 0 per
-- reason so that the reasons_* arrays stay parallel (ARRAY JOIN needs
-- arrays of one size).
--
-- Column types are restricted to what ClickHouse 18.16 and current releases
-- both accept (no DateTime64, Map, LowCardinality, JSON).

-- score_changes, new columns:
--   reasons_count  parallel to reasons_rule: the number of events each
--                  engagement rule counted (pricing page +17.4 from 3
--                  events); 0 for a fit attribute.
--   intent         the intent component, 0..100 (0 when the rules have no
--                  intent section).
--   persona        the contact's persona (the fit.persona title pattern it
--                  matched); empty on account rows and for titles matching
--                  none.
--   cause          what produced the change: event (an event was applied),
--                  decay (time passed a label or stage line, no event) or
--                  rules (a new rules file re-scored the account).
-- Changes that no event caused, e.g. the last week's decays:
--
--     SELECT cause, count() FROM (SELECT * FROM score_changes FINAL)
--     WHERE retracted = 0 AND as_of > now() - INTERVAL 7 DAY GROUP BY cause
--
-- (0007_retractions adds the causes correction and retraction, and the
-- column retracted that readers skip outside FINAL.)
ALTER TABLE score_changes ADD COLUMN reasons_count Array(UInt32) DEFAULT arrayMap(r -> toUInt32(0), reasons_rule) AFTER reasons_points;
ALTER TABLE score_changes ADD COLUMN intent Float64 AFTER engagement;
ALTER TABLE score_changes ADD COLUMN persona String AFTER stage;
ALTER TABLE score_changes ADD COLUMN cause String AFTER source_offset;

-- account_scores, new columns: reasons_count, intent and persona as in
-- score_changes, and best_times: the best hours of the week to reach the
-- contact (or the account's contacts), best first, as 'Tue 10:00' in the
-- contact's time zone when known, else UTC. What an account's score is made
-- of, each rule with its points and the events behind them:
--
--     SELECT rule, category, points, events
--     FROM account_scores FINAL
--     ARRAY JOIN reasons_rule AS rule, reasons_category AS category,
--                reasons_points AS points, reasons_count AS events
--     WHERE account_id = 'acme.com' AND contact_id = ''
--     ORDER BY points DESC
ALTER TABLE account_scores ADD COLUMN reasons_count Array(UInt32) DEFAULT arrayMap(r -> toUInt32(0), reasons_rule) AFTER reasons_points;
ALTER TABLE account_scores ADD COLUMN intent Float64 AFTER engagement;
ALTER TABLE account_scores ADD COLUMN persona String AFTER stage;
ALTER TABLE account_scores ADD COLUMN best_times Array(String) AFTER persona;

-- handoffs: one row per lead (contact_id set) or account (contact_id empty)
-- entering the mql stage, the same content as the handoffs Kafka topic. A
-- re-entry after falling back to lead is a new row. at is the event time of
-- the entry; score, fit, engagement, intent, label and stage are the values
-- at that moment. persona and title describe the contact. recommendation is
-- the advice configured for the label (handoff.recommendations in the rules
-- file, e.g. 'call within 24 hours'); best_times as in account_scores. The
-- reasons_* arrays are parallel, as in account_scores: why the lead is an
-- mql. source_* name the input record that caused the entry: with the
-- account and contact they are the row's identity. Partitioned by month of
-- at. This week's hand-offs for sales, best first:
--
--     SELECT account_id, contact_id, title, label, recommendation, best_times
--     FROM (SELECT * FROM handoffs FINAL)
--     WHERE retracted = 0 AND at > now() - INTERVAL 7 DAY ORDER BY score DESC
CREATE TABLE IF NOT EXISTS handoffs
(
    account_id       String,
    contact_id       String,
    at               DateTime,
    score            Float64,
    fit              Float64,
    engagement       Float64,
    intent           Float64,
    label            String,
    stage            String,
    persona          String,
    title            String,
    recommendation   String,
    best_times       Array(String),
    reasons_rule     Array(String),
    reasons_category Array(String),
    reasons_points   Array(Float64),
    reasons_count    Array(UInt32),
    rules_version    String,
    source_topic     String,
    source_partition Int32,
    source_offset    Int64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (account_id, contact_id, source_topic, source_partition, source_offset);

-- score_events: one row per event applied to an account (contact_id set
-- when the event came from a known contact), at its event time. type is the
-- event's kind (page, track, identify, group, alias); event is a track
-- event's name, path a page's path. rules and points are parallel: each
-- engagement rule the event matched and the points it earned for that rule,
-- undecayed and after the rule's cap (0 when the cap was full); an event no
-- rule matched has empty arrays. source_* name the input record: with the
-- account, contact and time they are the row's identity. Partitioned by
-- month of at; the table grows with the event stream, so query it for one
-- account and a time range. An account's history, newest first, as
-- `leadscore explain` lists it:
--
--     SELECT at, contact_id, type, event, path, rules, points
--     FROM (SELECT * FROM score_events FINAL WHERE account_id = 'acme.com')
--     WHERE retracted = 0 AND at > now() - INTERVAL 30 DAY
--     ORDER BY at DESC, source_offset DESC LIMIT 50
CREATE TABLE IF NOT EXISTS score_events
(
    account_id       String,
    contact_id       String,
    at               DateTime,
    type             String,
    event            String,
    path             String,
    rules            Array(String),
    points           Array(Float64),
    source_topic     String,
    source_partition Int32,
    source_offset    Int64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (account_id, contact_id, at, source_topic, source_partition, source_offset);
