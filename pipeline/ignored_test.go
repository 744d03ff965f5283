package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestInputNumbers runs records through an input worker, its dead letters
// produced to an in-process broker: an Intent Signal whose score is not a
// number is forwarded to be scored (the score ignored, counted once, a
// duplicate not again), while a group call whose employees is beyond
// float64 goes to the dead-letter topic, unchanged, with a detail that
// says so.
func TestInputNumbers(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "dlq"))
	require.NoError(t, err)
	t.Cleanup(cluster.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ConsumeTopics("dlq"))
	require.NoError(t, err)
	t.Cleanup(cl.Close)

	h := &harness{t: t, reg: prometheus.NewRegistry()}
	cfg := DefaultConfig()
	cfg.Hygiene.Enabled = false
	e, err := New(cfg, WithRegisterer(h.reg))
	require.NoError(t, err)
	e.inputs, e.repartitions = 1, 1
	e.dlq = &deadLetters{cl: cl, topic: "dlq"}
	var forwarded []string // keys; the promise recycles the record
	e.produce = func(r *kgo.Record, promise func(*kgo.Record, error)) {
		forwarded = append(forwarded, string(r.Key))
		promise(r, nil)
	}
	w := newWorker(e, cfg.Kafka.Topics[0], 0)
	rec := func(offset int64, value string) *kgo.Record {
		return &kgo.Record{Topic: cfg.Kafka.Topics[0], Offset: offset, Value: []byte(value)}
	}
	intent := `{"type":"track","event":"Intent Signal","messageId":"m1","timestamp":"2026-01-05T10:00:00Z",` +
		`"context":{"groupId":"acme.com"},"properties":{"topic":"crm","score":"high","competitor":"marketo"}}`
	group := `{"type":"group","groupId":"acme.com","messageId":"m2","timestamp":"2026-01-05T10:00:00Z","traits":{"employees":1e400}}`
	out := rowCounter{new(int)}
	require.NoError(t, w.process(context.Background(), []*kgo.Record{rec(0, intent), rec(1, intent), rec(2, group)}, out))

	require.Equal(t, []string{"acme.com"}, forwarded, "the intent signal is forwarded to be scored, once")
	require.Equal(t, 1.0, h.metricLabelled("leadscore_pipeline_values_ignored_total", "field", "properties.score"))
	require.Equal(t, 1.0, h.metricLabelled("leadscore_pipeline_records_total", "result", "duplicate"))
	require.Equal(t, 1.0, h.metricLabelled("leadscore_pipeline_records_total", "result", "dead_letter"))
	require.Equal(t, 1.0, h.metricLabelled("leadscore_pipeline_dead_letters_total", "reason", "wrong_type"))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, e.dlq.flush(ctx))
	fs := cl.PollRecords(ctx, 10)
	require.NoError(t, fs.Err())
	require.Len(t, fs.Records(), 1)
	dl := fs.Records()[0]
	require.Equal(t, group, string(dl.Value))
	headers := map[string]string{}
	for _, hd := range dl.Headers {
		headers[hd.Key] = string(hd.Value)
	}
	require.Equal(t, "wrong_type", headers[HeaderReason])
	require.Equal(t, "decode event: wrong_type: traits.employees: 1e400 is out of range", headers[HeaderDetail])
}
