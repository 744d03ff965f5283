-- Channel costs by month: what does a lead, an MQL and a win cost per
-- channel?
--
-- One row per month of the time range (whole months) and channel (source,
-- medium) with spend in channel_costs or accounts reaching a stage: the
-- month's spend against the accounts whose first touch was the channel and
-- that first reached the stage that month. Spend is summed over campaigns.
-- A channel without spend (organic search, direct) shows cost 0 and no cost
-- per lead; spend without leads shows no cost per lead either.
--
--   month                                 the first day of the month
--   source, medium                        the channel ('(none)': none)
--   cost, currency                        spend (channel_costs FINAL)
--   leads, mqls, wins                     accounts
--   cost_per_lead, cost_per_mql,          cost divided by them; NULL when
--   cost_per_win                          either is 0
SELECT
    month,
    source,
    medium,
    floor(100 * sum(c_cost) + 0.5) / 100 AS cost,
    max(c_currency) AS currency,
    sum(c_leads) AS leads,
    sum(c_mqls) AS mqls,
    sum(c_wins) AS wins,
    if(leads > 0 AND cost > 0, floor(100 * cost / leads + 0.5) / 100, NULL) AS cost_per_lead,
    if(mqls > 0 AND cost > 0, floor(100 * cost / mqls + 0.5) / 100, NULL) AS cost_per_mql,
    if(wins > 0 AND cost > 0, floor(100 * cost / wins + 0.5) / 100, NULL) AS cost_per_win
FROM
(
    SELECT
        month,
        source,
        medium,
        cost AS c_cost,
        currency AS c_currency,
        toUInt64(0) AS c_leads,
        toUInt64(0) AS c_mqls,
        toUInt64(0) AS c_wins
    FROM channel_costs FINAL
    WHERE month >= toStartOfMonth(toDate($__fromTime)) AND month <= toDate($__toTime)
    UNION ALL
    SELECT
        toStartOfMonth(toDate(reached_at)) AS month,
        if(source = '', '(none)', source) AS source,
        if(medium = '', '(none)', medium) AS medium,
        toFloat64(0) AS c_cost,
        '' AS c_currency,
        toUInt64(stage = 'lead') AS c_leads,
        toUInt64(stage = 'mql') AS c_mqls,
        toUInt64(stage = 'customer') AS c_wins
    FROM funnel_account_stages
    ARRAY JOIN
        ['lead', 'mql', 'customer'] AS stage,
        [lead_at, mql_at, customer_at] AS reached_at
    WHERE toUInt32(reached_at) > 0
        AND toStartOfMonth(toDate(reached_at)) >= toStartOfMonth(toDate($__fromTime))
        AND reached_at <= $__toTime
)
GROUP BY month, source, medium
ORDER BY month, cost DESC, source, medium
