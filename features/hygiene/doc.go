// Package hygiene keeps junk and duplicates out of the lead pipeline: it
// validates a lead's contact data, applies blacklists and a sensitive-word
// filter, normalises company names and finds duplicate leads.
//
// Where it sits in a partition worker's flow:
//
//	decode -> hygiene -> identity -> features/window -> scorer -> sink rows
//
// An identify call's traits become an Input (InputFromEvent, plus any
// free-text fields); Checker.Check fills a Verdict: rejected or not, every
// Finding (a stable reason Code, its Severity, the field, the offending
// value) and tags for the suspicious ones, and the normalised Contact
// (e-mail key, E.164 phone, company name core, company domain) that
// identity and de-duplication compare. A rejected lead stops here; a
// suspicious one goes on, tagged.
//
// What it owns:
//   - the contact checks and their lists (free-mail, disposable and
//     role-account e-mail, fake phone numbers), shipped in data/ and
//     extended by Config;
//   - blacklists of e-mails, domains, phones, IP ranges and company names,
//     and lexicons of sensitive words (one Aho-Corasick automaton over
//     case-, width- and script-folded text);
//   - company-name normalisation (legal forms, industry words and places in
//     Chinese, Japanese, Korean, European languages, Persian and Arabic;
//     aliases) and similarity;
//   - de-duplication policies and the per-partition DedupIndex;
//   - the job-change signal (JobChange).
//
// The Checker is built once from Config (New), is immutable and is shared
// by every worker. It does no I/O after New (which reads the list files
// the config names) and reads no clock: de-duplication windows run on the
// event time the caller hands in. A DedupIndex belongs to one partition
// worker, like all window state; leads are re-keyed through Kafka by their
// blocking keys (Checker.Keys) so duplicates meet in one worker, and the
// index is saved to a changelog as DedupEntry values (Changes, Snapshot,
// Restore).
//
// Pipeline wiring, Kafka topics and ClickHouse tables for findings and
// merges are not here.
package hygiene
