-- 0004_visitors: companies identified by their visitors' IP addresses, and
-- how often IP lookups match, so a marketing team can see which companies
-- visited without a form fill, and how much to trust it.
--
-- visitor_companies: one row per account that IP-range matching resolved
-- page views to (ISP, mobile, hosting and education ranges never make an
-- account). The engine writes the account's running totals each time they
-- change, with a version one higher: after FINAL (or argMax(x, version))
-- the newest row per account remains. first_seen and last_seen are the
-- event times of its first and latest matched page view; sessions counts
-- visits (a page view more than 30 minutes after the company's previous one
-- starts a new one); top_pages and top_page_views are parallel arrays, the
-- most viewed paths first. confidence (0..1) and match_source (override,
-- mmdb, csv) describe the best match seen: an override is certain, a
-- MaxMind corporate connection strong, a bare ASN organisation weaker.
--
--     SELECT account_id, organisation, sessions, pages, top_pages, confidence
--     FROM visitor_companies FINAL ORDER BY last_seen DESC LIMIT 50
CREATE TABLE IF NOT EXISTS visitor_companies
(
    account_id     String,
    organisation   String,
    first_seen     DateTime,
    last_seen      DateTime,
    sessions       UInt32,
    pages          UInt32,
    top_pages      Array(String),
    top_page_views Array(UInt32),
    confidence     Float64,
    match_source   String,
    version        UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY account_id;

-- ip_matches: the IP lookups made to resolve anonymous visitors, per UTC
-- day (of event time), match source and class: company, isp, mobile,
-- hosting, education, or none (no range holds the address; match_source
-- empty). Each input partition writes its cumulative count per key, so
-- after FINAL the highest remains and a replay cannot double count. The
-- match rate per day:
--
--     SELECT day, sumIf(lookups, class = 'company') / sum(lookups) AS rate
--     FROM ip_matches FINAL GROUP BY day ORDER BY day
CREATE TABLE IF NOT EXISTS ip_matches
(
    day              Date,
    match_source     String,
    class            String,
    source_topic     String,
    source_partition Int32,
    lookups          UInt64
)
ENGINE = ReplacingMergeTree(lookups)
PARTITION BY toYYYYMM(day)
ORDER BY (day, match_source, class, source_topic, source_partition);
