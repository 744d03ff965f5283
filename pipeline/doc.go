// Package pipeline wires and runs the engine: a franz-go consumer group whose
// poll loop hands each owned partition's records to that partition's worker
// (decode -> refuse future clocks and non-ids as accounts -> de-duplicate ->
// resolve the account -> score -> rows), the sinks
// that write the rows, and the committer that commits offsets only after every
// sink has made durable the rows derived from the records below them.
//
// Scoring applies each account's events in event-time order whatever order
// they arrive in: the account's records newer than the watermark are kept
// (its open tail, tail.go), a late one rebuilds the account, and the rows
// that changes are corrected or retracted (corrections.go).
//
// It owns the per-partition state (accounts and their open tails, identity
// links, the message-id window) and its snapshots, the dead-letter topic,
// the embedded broker used when no brokers are configured, and the
// operational HTTP endpoints.
package pipeline
