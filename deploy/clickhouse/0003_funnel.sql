-- 0003_funnel: funnel and channel analytics.
--
-- (0007_retractions replaces the aggregate tables below, funnel_accounts
-- and account_peaks, and their views by plain views over the rows that
-- stand: an aggregate state cannot forget a row that a late event
-- retracted. funnel_account_stages keeps its columns and meaning.)
--
-- The account's last-touch channel on funnel_transitions, two aggregate
-- tables that ClickHouse maintains itself through materialized views
-- (funnel_accounts, account_peaks), and channel_costs, the spend per
-- channel and month that `leadscore costs load FILE` loads from CSV. The
-- saved queries of deploy/clickhouse/queries and the Grafana dashboards of
-- deploy/grafana read them.
--
-- Replays. The engine's tables are ReplacingMergeTree: a cycle redone after
-- a crash, or a whole input reprocessed, inserts rows again that are
-- identical to rows already there, and only FINAL (or a background merge)
-- collapses them. A materialized view sees every insert, duplicates
-- included, so a view that adds up (a SummingMergeTree of counts, sumState,
-- countState) would count a replayed transition twice. The views below keep
-- only aggregates for which a duplicate row changes nothing: per account,
-- the minimum of a time (minState, minIfState) and the maximum of a value
-- (maxState). min(x, x) = x and max(x, x) = x, so any number of copies of a
-- row, in any order, in any part, before or after a merge, leave the same
-- state. Counts are made at query time, one per account (GROUP BY
-- account_id merges the states), so they are exact under replays without
-- FINAL. What needs the order of an account's transitions (time in stage,
-- the last touch that reached a stage) is not kept by a view: those saved
-- queries read funnel_transitions FINAL.
--
-- Funnel stages, as every saved query counts them: an account reached a
-- stage when a transition took it to that stage or past it, in the order
-- visitor, lead, mql, opportunity, customer (lost counts as past
-- opportunity, not as customer). An account that went from lead straight
-- to opportunity (a deal sales opened itself) counts as having passed mql,
-- as funnel reports usually do, so every stage holds at most the accounts
-- of the stage before it. Only account rows (contact_id = '') count: the
-- funnel is one of accounts; contacts' own lead and mql transitions stay in
-- funnel_transitions.
--
-- ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: each ALTER adds one
-- column and the migration runner skips it when the column exists. Every
-- other statement is CREATE ... IF NOT EXISTS, or the backfill INSERT at the
-- end, which is safe to run any number of times for the reason above.
-- Column types are restricted to what ClickHouse 18.16 and current releases
-- both accept.

-- funnel_transitions, new columns: the account's last-touch channel before
-- the transition (source, medium and campaign stay the first touch): the
-- UTM campaign of its latest page or event that had one, or without UTM
-- the referrer's host as last_source and its class as last_medium (search,
-- social, email, partner, referral; '(direct)' and direct for no
-- referrer). Rows written before this migration read ''. Which channels
-- closed the deals:
--
--     SELECT last_source, last_medium, count()
--     FROM (SELECT * FROM funnel_transitions FINAL WHERE contact_id = '')
--     WHERE retracted = 0 AND to_stage = 'customer' GROUP BY last_source, last_medium
ALTER TABLE funnel_transitions ADD COLUMN last_source String AFTER campaign;
ALTER TABLE funnel_transitions ADD COLUMN last_medium String AFTER last_source;
ALTER TABLE funnel_transitions ADD COLUMN last_campaign String AFTER last_medium;

-- funnel_accounts: per account, its first-touch channel and when it first
-- reached each funnel stage, kept by the view funnel_accounts_mv from every
-- account row inserted into funnel_transitions. Read it merged, one row per
-- account:
--
--     SELECT account_id,
--            maxMerge(source) AS source, maxMerge(medium) AS medium,
--            minMerge(seen_at) AS seen,
--            toUInt32(minIfMerge(mql_at)) AS mql  -- 0: never reached
--     FROM funnel_accounts GROUP BY account_id
--
-- source, medium, campaign: the first-touch channel. The engine sets an
-- account's first touch once, at its first page or event with a channel,
-- and writes it on every transition after: the rows of an account carry
-- either that channel or '' (before it had one), so the maximum of each
-- column is the account's first touch, whatever rows came first.
-- seen_at: the account's first transition (it entered the funnel).
-- lead_at, mql_at, opportunity_at, customer_at: the first transition that
-- reached the stage or a later one; lost_at: the first into lost. A stage
-- never reached reads 0 (1970-01-01 00:00:00; compare toUInt32(x) > 0).
CREATE TABLE IF NOT EXISTS funnel_accounts
(
    account_id     String,
    source         AggregateFunction(max, String),
    medium         AggregateFunction(max, String),
    campaign       AggregateFunction(max, String),
    seen_at        AggregateFunction(min, DateTime),
    lead_at        AggregateFunction(minIf, DateTime, UInt8),
    mql_at         AggregateFunction(minIf, DateTime, UInt8),
    opportunity_at AggregateFunction(minIf, DateTime, UInt8),
    customer_at    AggregateFunction(minIf, DateTime, UInt8),
    lost_at        AggregateFunction(minIf, DateTime, UInt8)
)
ENGINE = AggregatingMergeTree
ORDER BY account_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS funnel_accounts_mv TO funnel_accounts AS
SELECT
    account_id,
    maxState(source) AS source,
    maxState(medium) AS medium,
    maxState(campaign) AS campaign,
    minState(at) AS seen_at,
    minIfState(at, to_stage IN ('lead', 'mql', 'opportunity', 'customer', 'lost')) AS lead_at,
    minIfState(at, to_stage IN ('mql', 'opportunity', 'customer', 'lost')) AS mql_at,
    minIfState(at, to_stage IN ('opportunity', 'customer', 'lost')) AS opportunity_at,
    minIfState(at, to_stage = 'customer') AS customer_at,
    minIfState(at, to_stage = 'lost') AS lost_at
FROM funnel_transitions
WHERE contact_id = ''
GROUP BY account_id;

-- funnel_account_stages: funnel_accounts merged, one row per account: the
-- view the saved queries read. source, medium and campaign are the first
-- touch in lower case (UTM values are compared without regard to case, as
-- rules match them), '' when the account never had a channel. Each *_at is
-- the time the account first reached that stage or a later one, 0
-- (1970-01-01 00:00:00) when it never did, so count a stage with
-- toUInt32(x) > 0. Accounts that reached mql, by first-touch channel:
--
--     SELECT source, medium, countIf(toUInt32(mql_at) > 0) AS mqls
--     FROM funnel_account_stages GROUP BY source, medium
CREATE VIEW IF NOT EXISTS funnel_account_stages AS
SELECT
    account_id,
    lower(maxMerge(source)) AS source,
    lower(maxMerge(medium)) AS medium,
    lower(maxMerge(campaign)) AS campaign,
    minMerge(seen_at) AS seen_at,
    minIfMerge(lead_at) AS lead_at,
    minIfMerge(mql_at) AS mql_at,
    minIfMerge(opportunity_at) AS opportunity_at,
    minIfMerge(customer_at) AS customer_at,
    minIfMerge(lost_at) AS lost_at
FROM funnel_accounts
GROUP BY account_id;

-- account_peaks: per account, the highest score it was emitted with before
-- it became an opportunity (score_changes rows in stage visitor, lead or
-- mql), kept by the view account_peaks_mv. The score-calibration query
-- bands accounts by it and compares the bands' later conversion: is a
-- higher score worth more? The maximum, like the states above, is the same
-- however often a row is inserted. A score change is emitted when the score
-- moves by min_delta or the label or stage changes, so the peak is within
-- min_delta of the true one.
--
--     SELECT account_id, maxMerge(peak_score) AS peak
--     FROM account_peaks GROUP BY account_id
CREATE TABLE IF NOT EXISTS account_peaks
(
    account_id String,
    peak_score AggregateFunction(max, Float64)
)
ENGINE = AggregatingMergeTree
ORDER BY account_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS account_peaks_mv TO account_peaks AS
SELECT
    account_id,
    maxState(score) AS peak_score
FROM score_changes
WHERE contact_id = '' AND stage IN ('visitor', 'lead', 'mql')
GROUP BY account_id;

-- channel_costs: marketing spend per month and channel, loaded from CSV by
-- `leadscore costs load FILE` (columns month,source,medium,campaign,cost,
-- currency). month is the first day of the month; source, medium and
-- campaign are lower case and match the UTM values of funnel_transitions
-- (compared in lower case); campaign may be empty for spend not split by
-- campaign. cost is in currency (ISO 4217, one currency for the whole
-- table). Each load writes its rows with a higher version, so after FINAL a
-- reloaded row replaces the one loaded before (rows the new file does not
-- name stay; load a row with cost 0 to clear it). Cost per win by channel
-- and month is the saved query channel_costs.
CREATE TABLE IF NOT EXISTS channel_costs
(
    month    Date,
    source   String,
    medium   String,
    campaign String,
    cost     Float64,
    currency String,
    version  UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (month, source, medium, campaign);

-- Backfill: the transitions and score changes written before the views
-- existed. The views were created first, so a row inserted while this runs
-- reaches the tables through the view, or through this statement, or both:
-- none is missed, and one seen twice changes nothing. For the same reason
-- these statements may be run again at any time to repair the tables (for
-- instance after a view's insert failed).
INSERT INTO funnel_accounts (account_id, source, medium, campaign, seen_at, lead_at, mql_at, opportunity_at, customer_at, lost_at)
SELECT
    account_id,
    maxState(source),
    maxState(medium),
    maxState(campaign),
    minState(at),
    minIfState(at, to_stage IN ('lead', 'mql', 'opportunity', 'customer', 'lost')),
    minIfState(at, to_stage IN ('mql', 'opportunity', 'customer', 'lost')),
    minIfState(at, to_stage IN ('opportunity', 'customer', 'lost')),
    minIfState(at, to_stage = 'customer'),
    minIfState(at, to_stage = 'lost')
FROM funnel_transitions
WHERE contact_id = ''
GROUP BY account_id;

INSERT INTO account_peaks (account_id, peak_score)
SELECT
    account_id,
    maxState(score)
FROM score_changes
WHERE contact_id = '' AND stage IN ('visitor', 'lead', 'mql')
GROUP BY account_id;
