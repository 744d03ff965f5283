-- Funnel by week: how many leads, MQLs, opportunities and wins each week?
--
-- One row per week (starting Monday) of the time range: the accounts that
-- first reached each stage (or passed it) that week. An account counts
-- once per stage, in the week it first got there: an MQL that fell back to
-- lead and came back is not a new MQL.
--
--   week                                  the Monday, a Date
--   leads, mqls, opportunities, wins      accounts
SELECT
    week,
    countIf(stage = 'lead') AS leads,
    countIf(stage = 'mql') AS mqls,
    countIf(stage = 'opportunity') AS opportunities,
    countIf(stage = 'customer') AS wins
FROM
(
    SELECT
        toMonday(toDate(reached_at)) AS week,
        stage
    FROM funnel_account_stages
    ARRAY JOIN
        ['lead', 'mql', 'opportunity', 'customer'] AS stage,
        [lead_at, mql_at, opportunity_at, customer_at] AS reached_at
    WHERE toUInt32(reached_at) > 0 AND reached_at >= $__fromTime AND reached_at <= $__toTime
)
GROUP BY week
ORDER BY week
