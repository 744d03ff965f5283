//go:build race

package hygiene

const raceEnabled = true
