package pipeline

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestIdlePartition: input partition 3 gets no record. The watermark needs
// every input partition, so without engine.idle_partition_after only the
// decay changes an account's own later events bring out are emitted; with
// it, the empty partition stops holding the watermark back once it has
// been quiet that long, and the decay changes due after each account's
// last event come out too.
func TestIdlePartition(t *testing.T) {
	run := func(t *testing.T, after time.Duration, enough func(decays int) bool) int {
		h := newHarness(t)
		h.cfg.Engine.IdlePartitionAfter = Duration(after)
		// The scenario's partitions get about one record per four hours of
		// event time, slower than engine.max_time_jump lets a partition's
		// time follow them (TestTimeJumpBound); this test is about idleness.
		h.cfg.Engine.MaxTimeJump = 0
		s := newScenario(7, 24)
		s.parts[3] = nil
		stop := h.runEngine()
		defer func() { require.NoError(t, stop()) }()
		h.produce(s, 0, 1)
		h.waitCaughtUp()
		decays := func() int {
			n := 0
			for _, r := range h.consumeAll(h.cfg.Kafka.ScoreChangesTopic) {
				if strings.Contains(string(r.Value), `"cause":"decay"`) {
					n++
				}
			}
			return n
		}
		n := decays()
		require.Eventually(t, func() bool { n = decays(); return enough(n) }, 30*time.Second, 200*time.Millisecond)
		return n
	}
	var never int
	t.Run("never", func(t *testing.T) {
		deadline := time.Now().Add(3 * time.Second) // ten times the other run's idle time
		never = run(t, 0, func(int) bool { return time.Now().After(deadline) })
	})
	t.Run("after 300ms", func(t *testing.T) {
		n := run(t, 300*time.Millisecond, func(n int) bool { return n > never })
		t.Logf("decay changes: %d without idleness, %d with", never, n)
	})
}
