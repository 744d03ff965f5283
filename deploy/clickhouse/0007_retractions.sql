-- 0007_retractions: corrections and retractions, and funnel views that
-- read only the rows that stand.
--
-- An account's rows are those of its events applied in event-time order.
-- An event that arrives late can show that a row written earlier is wrong.
-- The engine then writes the row's identity (the table's ORDER BY key)
-- again, after the row it replaces:
--   a correction: the same identity with the content event-time order
--                 gives (score_changes: cause 'correction');
--   a retraction: the same identity with retracted = 1, for a row that
--                 event-time order does not write at all (score_changes:
--                 cause 'retraction'). Its other columns say nothing:
--                 they may be empty or 0.
-- The tables are ReplacingMergeTree without a version column, so of the
-- rows of one identity the one inserted last survives FINAL (and
-- merges). A correction or retraction keeps the partition of the row it
-- replaces (as_of's month for score_changes, at's for handoffs; the other
-- two tables have at in their identity), since FINAL only collapses rows
-- within one partition.
--
-- Reading: FINAL first, then skip retracted rows, in a subquery:
--
--     SELECT account_id, contact_id, as_of, score, label, stage, cause
--     FROM (SELECT * FROM score_changes FINAL WHERE account_id = 'acme.com')
--     WHERE retracted = 0
--
-- Not `FROM score_changes FINAL WHERE retracted = 0`: a condition on a
-- column outside the table's ORDER BY key in the same SELECT as FINAL may
-- be moved to PREWHERE and applied before FINAL (ClickHouse releases
-- differ), and would then drop the retraction and keep the row it
-- retracts. The same holds for any column a correction may change (score,
-- stage, label ...): filter on it outside the FINAL subquery. Conditions
-- on ORDER BY columns (account_id, contact_id) may stay inside, where they
-- narrow what FINAL reads.
--
-- ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: each ALTER adds one
-- column and the migration runner skips it when the column exists. Rows
-- written before this migration read retracted = 0.
ALTER TABLE score_changes ADD COLUMN retracted UInt8 DEFAULT 0;
ALTER TABLE funnel_transitions ADD COLUMN retracted UInt8 DEFAULT 0;
ALTER TABLE handoffs ADD COLUMN retracted UInt8 DEFAULT 0;
ALTER TABLE score_events ADD COLUMN retracted UInt8 DEFAULT 0;

-- The aggregates of 0003_funnel (funnel_accounts, account_peaks) are
-- replaced by plain views over the rows that stand. Their materialized
-- views saw every insert, and a minimum or maximum state cannot forget a
-- row: an account whose mql entry was retracted would count as an mql for
-- good, and a provisional score that was corrected down would stay its
-- peak. The views below compute the same columns at query time from FINAL
-- rows without retracted ones, so they agree with funnel_transitions and
-- score_changes as an analyst reads them; the funnel reads only account
-- rows (a few transitions per account), the peaks only account score
-- changes. DROP ... IF EXISTS and CREATE ... IF NOT EXISTS keep the file
-- safe to run twice (18.16 has no DROP VIEW nor CREATE OR REPLACE VIEW:
-- DROP TABLE drops views too).
DROP TABLE IF EXISTS funnel_account_stages;
DROP TABLE IF EXISTS funnel_accounts_mv;
DROP TABLE IF EXISTS funnel_accounts;
DROP TABLE IF EXISTS account_peaks_mv;
DROP TABLE IF EXISTS account_peaks;

-- funnel_account_stages: one row per account that has a transition
-- standing, with the columns and meaning 0003_funnel gave them: source,
-- medium and campaign are the first touch in lower case ('' when the
-- account never had a channel; its rows carry either that channel or ''),
-- seen_at its first transition, and each *_at the time it first reached
-- that stage or a later one (lost_at: lost), 0 (1970-01-01 00:00:00) when
-- it never did, so count a stage with toUInt32(x) > 0. Accounts that
-- reached mql, by first-touch channel:
--
--     SELECT source, medium, countIf(toUInt32(mql_at) > 0) AS mqls
--     FROM funnel_account_stages GROUP BY source, medium
CREATE VIEW IF NOT EXISTS funnel_account_stages AS
SELECT
    account_id,
    lower(max(source)) AS source,
    lower(max(medium)) AS medium,
    lower(max(campaign)) AS campaign,
    min(at) AS seen_at,
    minIf(at, to_stage IN ('lead', 'mql', 'opportunity', 'customer', 'lost')) AS lead_at,
    minIf(at, to_stage IN ('mql', 'opportunity', 'customer', 'lost')) AS mql_at,
    minIf(at, to_stage IN ('opportunity', 'customer', 'lost')) AS opportunity_at,
    minIf(at, to_stage = 'customer') AS customer_at,
    minIf(at, to_stage = 'lost') AS lost_at
FROM
(
    SELECT account_id, source, medium, campaign, at, to_stage, retracted
    FROM funnel_transitions FINAL
    WHERE contact_id = ''
)
WHERE retracted = 0
GROUP BY account_id;

-- account_peak_scores: per account, the highest score it was emitted with
-- before it became an opportunity (score_changes account rows in stage
-- visitor, lead or mql that stand), which the score-calibration query bands
-- accounts by. A change is emitted when the score moves by min_delta or the
-- label or stage changes, so the peak is within min_delta of the true one.
-- The stage condition is outside the FINAL subquery: a correction may
-- change a row's stage.
--
--     SELECT account_id, peak FROM account_peak_scores ORDER BY peak DESC LIMIT 20
CREATE VIEW IF NOT EXISTS account_peak_scores AS
SELECT
    account_id,
    max(score) AS peak
FROM
(
    SELECT account_id, score, stage, retracted
    FROM score_changes FINAL
    WHERE contact_id = ''
)
WHERE retracted = 0 AND stage IN ('visitor', 'lead', 'mql')
GROUP BY account_id;
