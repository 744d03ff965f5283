-- 0006_lead_merges: the audit trail of lead de-duplication.
--
-- lead_merges: one row per lead found to duplicate an earlier one. policy
-- is the de-duplication policy that matched and kind its kind (phone,
-- email, wechat, company); rule says what matched
-- ("phone=+8613912345678", "company~0.92+domain=acme.com") and score how
-- strongly (1 for a key, the name similarity for a company). existing_id
-- is the lead to merge into (the survivor when the matched lead, matched_id,
-- was itself merged); action is what the policy says to do: merge (keep the
-- new lead's source as a link on the existing one), reassign (owner becomes
-- the new lead's, notify_owner the previous owner to tell) or tag. A pair
-- found through two keys owned by two partitions is one row after FINAL.
--
--     SELECT policy, rule, lead_id, existing_id, action FROM lead_merges FINAL
--     WHERE at >= today() - 7 ORDER BY at DESC
CREATE TABLE IF NOT EXISTS lead_merges
(
    at               DateTime,
    lead_id          String,
    existing_id      String,
    matched_id       String,
    policy           String,
    kind             String,
    rule             String,
    score            Float64,
    action           String,
    owner            String,
    notify_owner     String,
    lead_source      String,
    existing_at      DateTime,
    source_topic     String,
    source_partition Int32,
    source_offset    Int64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (lead_id, existing_id, policy, source_topic, source_partition, source_offset);
