-- Channels by day: leads, MQLs, opportunities and wins per channel per day.
--
-- One row per day of the time range and first-touch channel ('source /
-- medium', '(none)' without one) that had any: the accounts that first
-- reached each stage (or passed it) that day.
--
--   day                                   a Date
--   channel                               'source / medium'
--   leads, mqls, opportunities, wins      accounts
SELECT
    day,
    channel,
    countIf(stage = 'lead') AS leads,
    countIf(stage = 'mql') AS mqls,
    countIf(stage = 'opportunity') AS opportunities,
    countIf(stage = 'customer') AS wins
FROM
(
    SELECT
        toDate(reached_at) AS day,
        concat(if(source = '', '(none)', source), ' / ', if(medium = '', '(none)', medium)) AS channel,
        stage
    FROM funnel_account_stages
    ARRAY JOIN
        ['lead', 'mql', 'opportunity', 'customer'] AS stage,
        [lead_at, mql_at, opportunity_at, customer_at] AS reached_at
    WHERE toUInt32(reached_at) > 0 AND reached_at >= $__fromTime AND reached_at <= $__toTime
)
GROUP BY day, channel
ORDER BY day, channel
