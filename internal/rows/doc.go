// Package rows holds the output rows the engine derives from events: the value
// types every sink receives. They are leaf types with no behaviour beyond
// helpers, shared by the pipeline (which makes them) and the sinks (which
// write them).
package rows
