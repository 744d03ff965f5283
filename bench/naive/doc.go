// Package naive is the benchmark baseline: leadscore's semantics for the
// example rules written the obvious way, so that bench can say how much the
// engine's design buys. It decodes with encoding/json into a struct whose
// context, properties and traits are map[string]any; keeps every account,
// contact, person link and parked visitor in maps with string keys; scores
// with its own straightforward reading of the rules file (parsed into plain
// structs, rules looked up by name); encodes score changes with
// encoding/json; and inserts ClickHouse rows one database/sql Exec at a time
// inside a transaction per flush.
//
// It deliberately does less than the engine, which makes every ratio
// against it conservative: one process consumes every partition in one
// goroutine, offsets are committed after each flush (at least once, no Kafka
// transactions, no changelog, no re-keying hop), and there is no lead
// hygiene, IP matching, decay timers, hand-offs, eviction or restore. What
// it scores, it scores like the engine: TestSameScores checks it against
// the scorer package on generated events.
package naive
