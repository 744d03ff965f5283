// Package features turns decoded events into what the scorer needs: it
// de-duplicates redelivered messages, resolves each event to an account
// (CONTRACT section 1, "Account resolution"), and keeps the per-visitor links
// and pending anonymous activity that identify and alias calls resolve later.
//
// It sits between decoding and scoring in a partition worker. Everything here
// is owned by exactly one worker: no locks, and every structure can be
// snapshotted with the offsets it covers.
package features
