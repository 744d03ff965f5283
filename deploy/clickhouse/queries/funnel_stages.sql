-- Funnel stages: where do we lose accounts?
--
-- The accounts that entered the funnel (first seen) in the time range, and
-- how far they got since: one row per stage, in funnel order. An account
-- reached a stage when it got there or past it (see 0003_funnel).
--
--   step, stage     1 visitor, 2 lead, 3 mql, 4 opportunity, 5 customer
--   reached         accounts of the cohort that reached the stage
--   share_pct       reached, in percent of the cohort (the visitor row)
--   converted       of those, accounts that reached the next stage
--   conversion_pct  converted / reached, in percent (NULL for customer)
--   dropped         reached - converted: accounts that went no further
--                   (yet); the stage with the most is where most are lost
SELECT
    step,
    stage,
    reached,
    if(first > 0, floor(1000 * reached / first + 0.5) / 10, NULL) AS share_pct,
    converted,
    if(step < 5 AND reached > 0, floor(1000 * converted / reached + 0.5) / 10, NULL) AS conversion_pct,
    reached - converted AS dropped
FROM
(
    SELECT
        count() AS visitors,
        countIf(toUInt32(lead_at) > 0) AS leads,
        countIf(toUInt32(mql_at) > 0) AS mqls,
        countIf(toUInt32(opportunity_at) > 0) AS opportunities,
        countIf(toUInt32(customer_at) > 0) AS customers,
        visitors AS first
    FROM funnel_account_stages
    WHERE seen_at >= $__fromTime AND seen_at <= $__toTime
)
ARRAY JOIN
    [1, 2, 3, 4, 5] AS step,
    ['visitor', 'lead', 'mql', 'opportunity', 'customer'] AS stage,
    [visitors, leads, mqls, opportunities, customers] AS reached,
    [leads, mqls, opportunities, customers, customers] AS converted
ORDER BY step
