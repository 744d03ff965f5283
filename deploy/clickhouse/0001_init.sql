-- 0001_init: the three output tables of leadscore.
--
-- Every table is a ReplacingMergeTree whose ORDER BY key is the row's
-- deterministic identity: the engine derives each row from one input record,
-- and replaying that record (after a crash, a rebalance, a reprocessing run)
-- yields a row with the same key and the same content. Background merges keep
-- one row per key, eventually; a query that must not see replayed duplicates
-- reads with FINAL, and since 0007_retractions skips retracted rows outside
-- it, e.g.
--
--     SELECT * FROM (SELECT * FROM score_changes FINAL WHERE account_id = 'acme.com')
--     WHERE retracted = 0
--
-- Times are DateTime: UTC seconds. Scores are 0..100; label is the grade
-- letter followed by the level digit (B1); stage is one of visitor, lead, mql,
-- opportunity, customer, lost. contact_id is empty on account-level rows.
--
-- Column types are restricted to what ClickHouse 18.16 and current releases
-- both accept (no DateTime64, Map, LowCardinality, JSON).

-- score_changes: one row per emitted score change, the same content as the
-- leadscore.score-changes Kafka topic. A change is emitted when the label or
-- the stage changes or the score moves by at least the rules' min_delta.
-- previous_* hold the values the change moved away from. The reasons_* arrays
-- are parallel: element i of each describes one rule's current contribution
-- (rule name, its category such as strong/weak/negative, decayed points);
-- read them together with ARRAY JOIN reasons_rule AS rule, reasons_points AS
-- points. source_* name the input record (Kafka topic, partition, offset) the
-- change was computed from: with the account and contact they are the row's
-- identity. Partitioned by month of as_of, the event time of the score.
CREATE TABLE IF NOT EXISTS score_changes
(
    account_id       String,
    contact_id       String,
    as_of            DateTime,
    score            Float64,
    fit              Float64,
    engagement       Float64,
    grade            String,
    level            UInt8,
    label            String,
    stage            String,
    previous_label   String,
    previous_stage   String,
    previous_score   Float64,
    reasons_rule     Array(String),
    reasons_category Array(String),
    reasons_points   Array(Float64),
    rules_version    String,
    source_topic     String,
    source_partition Int32,
    source_offset    Int64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(as_of)
ORDER BY (account_id, contact_id, source_topic, source_partition, source_offset);

-- account_scores: the latest score of every account (contact_id empty) and
-- of every known contact within it. Each applied event writes a row with a
-- version one higher than the last, so after FINAL (or argMax(x, version))
-- exactly the newest row per (account_id, contact_id) remains. This is the
-- table to join against for "current" scores, e.g. the hottest accounts:
--
--     SELECT account_id, score, label, stage FROM account_scores FINAL
--     WHERE contact_id = '' ORDER BY score DESC LIMIT 20
CREATE TABLE IF NOT EXISTS account_scores
(
    account_id       String,
    contact_id       String,
    score            Float64,
    fit              Float64,
    engagement       Float64,
    grade            String,
    level            UInt8,
    label            String,
    stage            String,
    reasons_rule     Array(String),
    reasons_category Array(String),
    reasons_points   Array(Float64),
    rules_version    String,
    as_of            DateTime,
    version          UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (account_id, contact_id);

-- funnel_transitions: one row per change of funnel stage (for example lead ->
-- mql, or mql -> lead when the score falls below the exit line), at the event
-- time it happened. source, medium and campaign are the account's first-touch
-- channel (UTM source/medium/campaign of its first visit), so conversion can
-- be broken down by channel, e.g.
--
--     SELECT source, countIf(to_stage = 'mql') AS mqls
--     FROM (SELECT * FROM funnel_transitions FINAL) WHERE retracted = 0
--     GROUP BY source
--
-- source_* name the input record that caused the transition; together with
-- the account, contact, time and stages they are the row's identity.
-- Partitioned by month of the transition.
CREATE TABLE IF NOT EXISTS funnel_transitions
(
    account_id       String,
    contact_id       String,
    from_stage       String,
    to_stage         String,
    at               DateTime,
    source           String,
    medium           String,
    campaign         String,
    source_topic     String,
    source_partition Int32,
    source_offset    Int64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (account_id, contact_id, at, from_stage, to_stage, source_topic, source_partition, source_offset);
