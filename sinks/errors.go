package sinks

import "errors"

var (
	// ErrClosed is returned by Write and Flush on a sink that has been
	// closed.
	ErrClosed = errors.New("sink is closed")
	// ErrPermanent marks a Flush error no retry can fix, such as a missing
	// table or column: the caller should stop (a fatal error) rather than
	// flush again. Other Flush errors are transient: the rows are kept and
	// a later Flush may succeed.
	ErrPermanent = errors.New("permanent sink error")
)
