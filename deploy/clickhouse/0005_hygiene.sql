-- 0005_hygiene: leads that failed the hygiene checks, and the tags of the
-- ones kept as suspicious.
--
-- rejected_leads: one row per rejected identify, never scored. reasons,
-- fields, field_values and details are parallel arrays, one entry per
-- finding: the code (email_invalid, email_disposable, phone_fake,
-- blacklisted_domain, sensitive_word, ...), the field it was found in, the
-- offending value (the domain, the normalised number, the matched word) and
-- a fixed phrase saying why. The same rows, with the original record, are
-- on the leadscore.rejected topic. source_* name the input record: the
-- row's identity.
--
--     SELECT reason, count() FROM rejected_leads FINAL ARRAY JOIN reasons AS reason
--     WHERE at >= today() - 7 GROUP BY reason ORDER BY count() DESC
CREATE TABLE IF NOT EXISTS rejected_leads
(
    at               DateTime,
    user_id          String,
    anonymous_id     String,
    email            String,
    phone            String,
    company          String,
    reasons          Array(String),
    fields           Array(String),
    field_values     Array(String),
    details          Array(String),
    source_topic     String,
    source_partition Int32,
    source_offset    Int64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (source_topic, source_partition, source_offset);

-- account_scores.tags: a contact's hygiene tags, what its last identify was
-- found suspicious for (email_freemail, email_role, phone_invalid, ...); the
-- lead is kept and scored. Empty on account rows.
ALTER TABLE account_scores ADD COLUMN tags Array(String) AFTER best_times;
