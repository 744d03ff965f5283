-- Last touch: which channel was the account's latest before it became an
-- MQL, an opportunity, a customer?
--
-- For each account and stage, the transition that first reached the stage
-- (or passed it) in the time range, and the last-touch channel it carries
-- (last_source, last_medium: the latest UTM campaign, or referrer host and
-- class, before the transition). Counted per channel. Which row came first
-- is not something an aggregate can keep correct under replays, so this
-- reads funnel_transitions with FINAL and skips retracted rows after it;
-- ties in time go to the earlier input record.
--
--   source, medium                        the last touch ('(none)': none)
--   mqls, opportunities, wins             accounts
SELECT
    if(source = '', '(none)', source) AS source,
    if(medium = '', '(none)', medium) AS medium,
    countIf(stage = 'mql') AS mqls,
    countIf(stage = 'opportunity') AS opportunities,
    countIf(stage = 'customer') AS wins
FROM
(
    SELECT
        account_id,
        stage,
        min(at) AS reached_at,
        lower(argMin(last_source, (at, source_partition, source_offset))) AS source,
        lower(argMin(last_medium, (at, source_partition, source_offset))) AS medium
    FROM
    (
        SELECT account_id, to_stage, at, last_source, last_medium, source_partition, source_offset, retracted
        FROM funnel_transitions FINAL
        WHERE contact_id = ''
    )
    ARRAY JOIN multiIf(
        to_stage = 'mql', ['mql'],
        to_stage IN ('opportunity', 'lost'), ['mql', 'opportunity'],
        to_stage = 'customer', ['mql', 'opportunity', 'customer'],
        emptyArrayString()) AS stage
    WHERE retracted = 0
    GROUP BY account_id, stage
)
WHERE reached_at >= $__fromTime AND reached_at <= $__toTime
GROUP BY source, medium
ORDER BY wins DESC, opportunities DESC, mqls DESC, source, medium
