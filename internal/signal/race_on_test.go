//go:build race

package signal

// raceEnabled: the race detector multiplies what memory costs.
const raceEnabled = true
