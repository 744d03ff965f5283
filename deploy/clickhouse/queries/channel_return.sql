-- Channel return: over the whole time range, what did each channel cost
-- and what did it bring? The CEO's comparison of, say, LinkedIn with search
-- ads: cost per lead, per MQL and per win side by side.
--
-- channel_costs by month summed over the months of the time range (whole
-- months) per channel (source, medium), against the accounts whose first
-- touch was the channel and that first reached each stage in those months.
--
--   channel                               'source / medium', for charts
--   source, medium                        the channel ('(none)': none)
--   cost, currency                        spend
--   leads, mqls, wins                     accounts
--   cost_per_lead, cost_per_mql,          cost divided by them; NULL when
--   cost_per_win                          either is 0
SELECT
    concat(source, ' / ', medium) AS channel,
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
GROUP BY source, medium
ORDER BY cost DESC, wins DESC, leads DESC, source, medium
