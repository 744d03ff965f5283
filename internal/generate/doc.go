// Package generate produces a seeded, realistic stream of Segment-spec
// records for tests, benchmarks and the demo: the input side of the flow, in
// place of RudderStack or Segment writing to Kafka.
//
// The stream models a B2B vendor's website and systems. A fixed set of
// accounts (companies with a domain, industry, size, country and tech stack)
// is visited with Zipf-skewed popularity; their people browse in sessions,
// receive e-mail, submit forms and get identified; intent providers and the
// CRM report on accounts. Popular, engaged accounts reach opportunities and
// deals, as they do in real data. A small share of records is malformed on
// purpose, each kind built to fail internal/event.Decode (with DefaultLimits)
// with exactly the reason it names, and a share re-sends an earlier record
// unchanged, as at-least-once delivery does.
//
// Every record is keyed by its account's domain. The contract leaves the key
// free and the engine must not rely on it; but partition workers own their
// state and the pipeline does not yet re-key events by account through a
// topic, so the generator keys by account to keep each account's events on one
// partition. Once re-keying lands, keying by anonymousId would be the more
// faithful default.
//
// A Generator is deterministic: the same Config yields the same bytes, so
// benchmarks and tests can be replayed. It is not safe for concurrent use.
package generate
