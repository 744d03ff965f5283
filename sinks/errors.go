package sinks

import "errors"

// ErrClosed is returned by Write and Flush on a sink that has been closed.
var ErrClosed = errors.New("sink is closed")
