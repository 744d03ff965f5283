// Command leadscore is the real-time lead and account scoring engine.
//
//	leadscore run           consume, score and write until signalled
//	leadscore demo          embedded broker + generator + engine on a bounded stream, then a report
//	leadscore migrate       create or upgrade the ClickHouse tables
//	leadscore generate      write seeded Segment events to a topic or stdout
//	leadscore check-config  report every configuration problem at once
//	leadscore check-rules   validate a rules file
package main
