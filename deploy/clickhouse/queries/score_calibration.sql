-- Score calibration: do accounts with higher scores convert more?
--
-- The accounts that entered the funnel in the time range, banded by the
-- highest score each had before it became an opportunity
-- (account_peak_scores: its score changes in stage visitor, lead or mql
-- that stand, corrected ones as corrected, retracted ones left out),
-- against how many of each band later became an opportunity and a
-- customer. A calibrated score converts better band by band. Accounts that
-- were opportunities from their first score on have no peak and are left
-- out.
--
--   band                             0, 10, ..., 90: the band's lowest score
--   scores                           '0-9', ..., '90-100'
--   accounts                         accounts in the band
--   opportunities, wins              of those, reached opportunity, customer
--   opportunity_pct, win_pct         in percent of the band's accounts
--   mean_peak                        the band's mean peak score
SELECT
    band,
    concat(toString(band), '-', toString(if(band = 90, 100, band + 9))) AS scores,
    count() AS accounts,
    countIf(toUInt32(opportunity_at) > 0) AS opportunities,
    countIf(toUInt32(customer_at) > 0) AS wins,
    floor(1000 * opportunities / accounts + 0.5) / 10 AS opportunity_pct,
    floor(1000 * wins / accounts + 0.5) / 10 AS win_pct,
    floor(10 * avg(peak) + 0.5) / 10 AS mean_peak
FROM
(
    SELECT
        opportunity_at,
        customer_at,
        peak,
        toUInt8(least(greatest(floor(peak / 10), 0), 9) * 10) AS band
    FROM
    (
        SELECT account_id, opportunity_at, customer_at
        FROM funnel_account_stages
        WHERE seen_at >= $__fromTime AND seen_at <= $__toTime
    ) AS f
    ANY INNER JOIN
    (
        SELECT account_id, peak
        FROM account_peak_scores
    ) AS p USING account_id
)
GROUP BY band
ORDER BY band
