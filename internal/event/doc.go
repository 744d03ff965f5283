// Package event holds the typed form of a Segment-spec call and its decoder.
//
// It sits at the start of the flow: a partition worker hands each record's
// value to Decode, which fills a reused Event or returns a *DecodeError with a
// stable reason code; the worker sends such records to the dead-letter topic.
//
// Decode bounds a record's cost (Limits: size, nesting, string length) and
// reads it in one pass with a parser made for the Segment call shape
// (parser.go): it validates the whole record and notes where the known
// values lie, then copies the strings the event keeps into one block carved
// from a slab shared by consecutive events (amortised, no allocation per
// event; whoever keeps a string beyond the event clones it, or it pins the
// slab).
// Any record that parser does not accept, every malformed one among them,
// goes to the reference decoder (decode_reference.go: segmentio/encoding/json
// into a pooled wire struct that mirrors the Segment JSON), which decides the
// error; FuzzDecodeDifferential holds the two to the same answer on every
// input. The Reason values are part of the contract (the
// leadscore.error.reason DLQ header): add new ones, never rename them.
package event
