// Package scorer turns an account's firmographics and behaviour into a score,
// a grade/level label and a funnel stage, following a rules file (CONTRACT
// section 3).
//
// It sits after features (hygiene, identity, windows) in a partition worker:
//
//	decode -> hygiene -> identity -> features -> scorer -> sink rows
//
// The package is pure. Apart from [Load] and [Limits.ReadFile] reading the
// rules file (within [Limits], checked before the file is read whole) it does
// no I/O, it never reads the clock (every computation is as of an event time the
// caller hands in) and it keeps no state of its own: [Rules] is immutable
// after [Parse] and safe to share between workers, while each account's
// [State] is a plain value owned by exactly one partition worker, which
// snapshots it: in the binary format of [State.AppendBinary] (written by
// this package, documented in binary.go) or, as older snapshots are, as
// JSON.
//
// The flow for one account is:
//
//	rules.Observe(&state, ev)      // for every event resolved to the account
//	rules.Evaluate(&state, &res)   // score as of state.AsOf, advance the stage
//	rules.ShouldEmit(&prev, ok, &res)
//
// Observe keeps each engagement rule's points already decayed to the newest
// event time (State.AsOf), so Evaluate is a sum and neither needs the event
// history. Both are allocation-free once an account's state has grown to its
// working size.
//
// Invariants worth knowing:
//   - Late events are exact for decay: an event older than AsOf adds its
//     points decayed to AsOf, the same as if it had come in order.
//   - Caps see the events applied before: an event's window (t-per, t]
//     counts what earlier-applied events earned there. The cap history keeps
//     only the window of AsOf, (AsOf-per, AsOf], so memory stays bounded; a
//     late event whose window reaches back before AsOf-per is capped against
//     that kept history only.
//   - Contributions below 1e-9 points count as zero, so a rule whose points
//     have decayed away leaves the reasons.
//   - State.Rules is positional: a State belongs to the Rules.Version that
//     built it.
package scorer
