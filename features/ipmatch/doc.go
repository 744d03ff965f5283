// Package ipmatch matches a visitor's IP address to the organisation whose
// network it belongs to: CONTRACT section 1, account resolution step 3.
//
// # Where it sits
//
// A partition worker resolves each event to an account in features
// (identity); when neither a group id nor a known person names the account,
// identity asks an IPMatcher. *Matcher is that matcher: MatchIP returns an
// account id only for company networks, never for ISP, mobile, hosting/cloud
// or education ranges. Lookup returns the full Match (organisation, ASN,
// class, domain, confidence, source) for dashboards and debugging.
//
// One Matcher is shared by every worker. That keeps the "no shared state
// between workers" rule: lookups read an immutable snapshot through an
// atomic pointer and never wait for a reload, and the cache in front of it
// holds pure results tagged with the snapshot they came from.
//
// # What it owns
//
//   - Range data, loaded at start and hot-swapped when a file changes (Run
//     polls size and modification time): CSV files in the @ip-location-db/asn
//     format (start,end,asn,organisation), MaxMind DB files (ASN, ISP,
//     connection-type or enterprise databases) and a user overrides file.
//     A reload builds a new snapshot off to the side and publishes it with one
//     atomic store; a failed reload keeps the old snapshot and is reported.
//   - Classification of an organisation: shipped lists (data/asn-classes.csv,
//     data/org-rules.txt) extended by Config.
//   - The organisation -> domain table (data/domains.csv) and the account id
//     derived from it.
//
// # Resolution rules
//
// Precedence is fixed and deterministic:
//
//  1. An override range covering the address wins over everything (source
//     "override", confidence 1, class company). Among overlapping overrides the
//     narrowest wins, then the earliest line.
//  2. Otherwise the data ranges: MaxMind DB ranges beat CSV ranges; among
//     ranges of the same kind the narrowest wins, then the one loaded first
//     (config order of files, then row order).
//
// IPv4-mapped IPv6 addresses (::ffff:1.2.3.4) are looked up as IPv4; a range
// written in IPv4-mapped form is stored as IPv4.
//
// Classification of a data range, first match wins: the MaxMind per-network
// type (user_type, connection_type) when present, then the ASN list, then the
// organisation keyword rules, else company. A range without an organisation
// name is unknown unless its ASN is listed.
//
// Account ids: the known domain of the organisation (data/domains.csv by ASN,
// then by normalised organisation name, extended by Config.Domains), else
// "org:" + a slug of the normalised organisation name ("org:guitar-center"),
// else "asn:" + the number. Domains are bare lower-case ("google.com"), as
// CONTRACT section 1 requires; the slug forms cannot be mistaken for one.
//
// Google (AS15169, 8.8.8.8) is a company and makes the account google.com.
// Cloudflare (AS13335, 1.1.1.1) is hosting: its ranges carry the DNS resolver,
// WARP and Workers egress, not Cloudflare's staff, so Lookup reports
// Cloudflare and cloudflare.com but MatchIP makes no account of it.
package ipmatch
