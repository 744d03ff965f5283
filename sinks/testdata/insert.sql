INSERT INTO score_changes (account_id, contact_id, as_of, score, fit, engagement, grade, level, label, stage, previous_label, previous_stage, previous_score, reasons_rule, reasons_category, reasons_points, reasons_count, rules_version, source_topic, source_partition, source_offset, intent, persona, cause, retracted);
INSERT INTO account_scores (account_id, contact_id, score, fit, engagement, grade, level, label, stage, reasons_rule, reasons_category, reasons_points, reasons_count, rules_version, as_of, version, intent, persona, best_times, tags);
INSERT INTO funnel_transitions (account_id, contact_id, from_stage, to_stage, at, source, medium, campaign, last_source, last_medium, last_campaign, source_topic, source_partition, source_offset, retracted);
INSERT INTO handoffs (account_id, contact_id, at, score, fit, engagement, intent, label, stage, persona, title, recommendation, best_times, reasons_rule, reasons_category, reasons_points, reasons_count, rules_version, source_topic, source_partition, source_offset, retracted);
INSERT INTO score_events (account_id, contact_id, at, type, event, path, rules, points, source_topic, source_partition, source_offset, retracted);
INSERT INTO visitor_companies (account_id, organisation, first_seen, last_seen, sessions, pages, top_pages, top_page_views, confidence, match_source, version);
INSERT INTO ip_matches (day, match_source, class, source_topic, source_partition, lookups);
INSERT INTO rejected_leads (at, user_id, anonymous_id, email, phone, company, reasons, fields, field_values, details, source_topic, source_partition, source_offset);
INSERT INTO lead_merges (at, lead_id, existing_id, matched_id, policy, kind, rule, score, action, owner, notify_owner, lead_source, existing_at, source_topic, source_partition, source_offset);
