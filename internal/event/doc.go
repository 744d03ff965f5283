// Package event holds the typed form of a Segment-spec call and its decoder.
//
// It sits at the start of the flow: a partition worker hands each record's
// value to Decode, which fills a reused Event or returns a *DecodeError with a
// stable reason code; the worker sends such records to the dead-letter topic.
//
// Decode bounds a record's cost before parsing it (Limits: size, nesting,
// string length), parses with github.com/segmentio/encoding/json into a
// pooled wire struct that mirrors the Segment JSON, and copies the fields the
// engine reads into Event. The Reason values are part of the contract (the
// leadscore.error.reason DLQ header): add new ones, never rename them.
package event
