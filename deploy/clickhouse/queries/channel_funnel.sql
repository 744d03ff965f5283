-- Channels: which first-touch channel brings accounts that convert?
--
-- The accounts that entered the funnel in the time range, by first-touch
-- channel (UTM source and medium of the account's first visit, or its
-- referrer's host and class; '(none)' when it never had one), and how far
-- they got since.
--
--   source, medium                                  the channel
--   accounts                                        accounts first seen
--   leads, mqls, opportunities, wins, losses        accounts that reached
--                                                   the stage (losses:
--                                                   deals lost)
--   lead_to_mql_pct, lead_to_win_pct                mqls / leads, wins /
--                                                   leads, in percent
SELECT
    if(source = '', '(none)', source) AS source,
    if(medium = '', '(none)', medium) AS medium,
    count() AS accounts,
    countIf(toUInt32(lead_at) > 0) AS leads,
    countIf(toUInt32(mql_at) > 0) AS mqls,
    countIf(toUInt32(opportunity_at) > 0) AS opportunities,
    countIf(toUInt32(customer_at) > 0) AS wins,
    countIf(toUInt32(lost_at) > 0) AS losses,
    if(leads > 0, floor(1000 * mqls / leads + 0.5) / 10, NULL) AS lead_to_mql_pct,
    if(leads > 0, floor(1000 * wins / leads + 0.5) / 10, NULL) AS lead_to_win_pct
FROM funnel_account_stages
WHERE seen_at >= $__fromTime AND seen_at <= $__toTime
GROUP BY source, medium
ORDER BY wins DESC, leads DESC, source, medium
