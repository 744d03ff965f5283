-- Time in stage: how long do accounts sit in each stage?
--
-- Every completed stay of an account in a stage (from the transition into
-- it to the transition out of it) that ended in the time range, per stage.
-- Accounts still in a stage are not counted. The order of an account's
-- transitions is not something an aggregate can keep correct under
-- replays, so this reads funnel_transitions with FINAL (replayed rows
-- collapse, a correction replaces its row), skips retracted rows after
-- FINAL, and orders each account's transitions by time, then by input
-- record.
--
--   stage                       the stage left
--   stays                       completed stays
--   median_hours, p90_hours     quantiles of the stays' length, hours
--   mean_hours                  mean length, hours
SELECT
    stage,
    count() AS stays,
    floor(10 * quantileExact(0.5)(hours) + 0.5) / 10 AS median_hours,
    floor(10 * quantileExact(0.9)(hours) + 0.5) / 10 AS p90_hours,
    floor(10 * avg(hours) + 0.5) / 10 AS mean_hours
FROM
(
    SELECT
        tupleElement(t[i], 4) AS stage,
        (tupleElement(t[i], 1) - tupleElement(t[i - 1], 1)) / 3600 AS hours,
        tupleElement(t[i], 1) AS left_at
    FROM
    (
        SELECT arraySort(groupArray((toUInt32(at), source_partition, source_offset, from_stage))) AS t
        FROM
        (
            SELECT account_id, at, source_partition, source_offset, from_stage, retracted
            FROM funnel_transitions FINAL
            WHERE contact_id = ''
        )
        WHERE retracted = 0
        GROUP BY account_id
    )
    ARRAY JOIN arrayEnumerate(t) AS i
    WHERE i > 1
)
WHERE left_at >= toUInt32($__fromTime) AND left_at <= toUInt32($__toTime)
GROUP BY stage
ORDER BY indexOf(['visitor', 'lead', 'mql', 'opportunity', 'customer', 'lost'], stage), stage
