package generate

import (
	"bufio"
	"bytes"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/event"
)

// TestStream runs the generator for 50k records and checks each one with the
// real decoder: the oracle for "valid" and for every malformed kind.
func TestStream(t *testing.T) {
	const n = 50_000
	g := New(Config{Seed: 42})
	cfg := g.Config()

	var (
		ev          event.Event
		values      = make(map[string]string) // messageId -> first value
		firstType   = make(map[string]event.Type)
		perKey      = make(map[string]int)
		kinds       = make(map[string]int)
		events      = make(map[string]int)
		last        = cfg.Start
		malformed   int
		duplicates  int
		valid       int
		validBytes  int
		withGroupID int
		withUTM     int
		pages       int
	)
	for i := range n {
		rec := g.Next()
		kinds[rec.Kind]++
		err := event.Decode(rec.Value, &ev, event.DefaultLimits())
		if rec.Malformed {
			malformed++
			require.False(t, rec.Duplicate)
			de, ok := errors.AsType[*event.DecodeError](err)
			require.True(t, ok, "record %d: malformed %s decoded without error: %s", i, rec.Kind, rec.Value)
			require.Equal(t, rec.Kind, string(de.Reason), "record %d: %s", i, de.Detail)
			continue
		}
		require.NoError(t, err, "record %d: %s", i, rec.Value)
		require.Equal(t, rec.Kind, ev.Type.String())
		require.NotEmpty(t, ev.MessageID)
		require.Contains(t, string(rec.Value), `"timestamp":"`, "every valid record has an RFC 3339 timestamp")

		if rec.Duplicate {
			duplicates++
			first, seen := values[ev.MessageID]
			require.True(t, seen, "record %d: duplicate of an unseen messageId %s", i, ev.MessageID)
			require.Equal(t, first, string(rec.Value), "a duplicate re-sends the same bytes")
		} else {
			_, seen := values[ev.MessageID]
			require.False(t, seen, "record %d: messageId %s reused", i, ev.MessageID)
			values[ev.MessageID] = string(rec.Value)
			require.False(t, ev.Time.Before(last), "record %d: event time went back from %v to %v", i, last, ev.Time)
			last = ev.Time
		}
		clear(rec.Value) // the caller owns the bytes: later duplicates must not share them

		key := string(rec.Key)
		require.Equal(t, strings.ToLower(key), key)
		if _, ok := firstType[key]; !ok {
			firstType[key] = ev.Type
		}
		if rec.Duplicate {
			continue
		}
		valid++
		validBytes += len(values[ev.MessageID])
		perKey[key]++
		checkAccount(t, key, &ev)
		if ev.Type == event.TypeTrack {
			events[ev.Event]++
		}
		if ev.Context.GroupID != "" {
			withGroupID++
		}
		if ev.Type == event.TypePage {
			pages++
			if ev.Context.Campaign.Source != "" {
				withUTM++
			}
			ip, err := netip.ParseAddr(ev.Context.IP)
			require.NoError(t, err)
			require.True(t, ip.Is4() && ip.IsGlobalUnicast() && !ip.IsPrivate(), "ip %s", ip)
			require.True(t, strings.HasPrefix(ev.PagePath(), "/"))
		}
	}
	require.False(t, last.After(cfg.Start.Add(n*cfg.MeanGap*3/2)), "event time advances by about MeanGap per record")
	require.True(t, last.After(cfg.Start.Add(n*cfg.MeanGap*2/3)))

	// Shares are near the configured rates.
	require.InDelta(t, cfg.MalformedRate, float64(malformed)/n, 0.002)
	require.InDelta(t, cfg.DuplicateRate, float64(duplicates)/n, 0.003)
	for _, r := range malformedKinds {
		require.Positive(t, kinds[string(r)], "malformed kind %s never generated", r)
	}
	for _, k := range []string{"page", "track", "identify", "group", "alias"} {
		require.Positive(t, kinds[k], "call type %s never generated", k)
	}
	for _, name := range []string{
		"Email Delivered", "Email Opened", "Email Link Clicked", "Email Replied", "Email Bounced",
		"Email Marked as Spam", "Unsubscribed", "Form Submitted", "Chat Started", "Event Attended",
		"Demo Requested", "Content Downloaded", "Trial Started", "Intent Signal",
		"Opportunity Created", "Deal Won", "Deal Lost",
	} {
		require.Positive(t, events[name], "track event %q never generated", name)
	}
	require.Greater(t, events["Email Delivered"], events["Email Opened"])
	require.Greater(t, events["Email Opened"], events["Email Link Clicked"])
	require.Greater(t, events["Email Link Clicked"], events["Email Replied"])
	require.Greater(t, events["Opportunity Created"], events["Deal Won"])

	// Every account that shows up is identified by a group call first.
	for key, typ := range firstType {
		require.Equal(t, event.TypeGroup, typ, "first record of %s", key)
	}
	require.InDelta(t, 0.25, float64(withGroupID)/float64(valid), 0.2, "a share of events carry context.groupId")
	require.InDelta(t, 0.2, float64(withUTM)/float64(pages), 0.15, "a share of pages carry UTM parameters")
	mean := float64(validBytes) / float64(valid)
	require.InDelta(t, 300, mean, 100, "mean record size")
	t.Logf("%d records: %d valid (mean %.0f bytes), %d duplicates, %d malformed, %d accounts seen; kinds %v",
		n, valid, mean, duplicates, malformed, len(perKey), kinds)

	// Skew: the top 1% of accounts draw far more events than the median one.
	counts := make([]int, 0, len(g.accounts))
	for i := range g.accounts {
		counts = append(counts, perKey[g.accounts[i].domain])
	}
	slices.Sort(counts)
	slices.Reverse(counts)
	top := len(counts) / 100
	topMean := 0
	for _, c := range counts[:top] {
		topMean += c
	}
	topMean /= top
	median := counts[len(counts)/2]
	t.Logf("events per account: top 1%% mean %d, median %d, max %d", topMean, median, counts[0])
	require.Greater(t, topMean, 10*max(median, 1))
}

// checkAccount checks that what a record says about its account agrees with
// the record key, the account's domain.
func checkAccount(t *testing.T, key string, ev *event.Event) {
	t.Helper()
	if ev.Context.GroupID != "" {
		require.Equal(t, key, ev.Context.GroupID)
	}
	switch ev.Type {
	case event.TypeGroup:
		require.Equal(t, key, ev.GroupID)
		require.Equal(t, key, ev.Traits.Domain)
		require.True(t, ev.Traits.HasEmployees)
		require.GreaterOrEqual(t, ev.Traits.Employees, int64(5))
		require.LessOrEqual(t, ev.Traits.Employees, int64(21000))
		require.Contains(t, industries, ev.Traits.Industry)
		require.Contains(t, countries, ev.Traits.Country)
		for _, tech := range ev.Traits.Technologies {
			require.Contains(t, technologies, tech)
		}
	case event.TypeIdentify:
		require.NotEmpty(t, ev.UserID)
		require.NotEmpty(t, ev.AnonymousID)
		domain := ev.Traits.Email[strings.IndexByte(ev.Traits.Email, '@')+1:]
		require.Contains(t, []string{key, "gmail.com", "qq.com", "163.com"}, domain)
		if ev.Traits.Company.Domain != "" {
			require.Equal(t, key, ev.Traits.Company.Domain)
		}
	case event.TypeTrack:
		switch ev.Event {
		case "Intent Signal":
			require.Empty(t, ev.AnonymousID+ev.UserID, "intent signals name only an account")
			require.True(t, ev.Properties.HasScore)
			require.GreaterOrEqual(t, ev.Properties.Score, 0.0)
			require.LessOrEqual(t, ev.Properties.Score, 100.0)
			require.NotEmpty(t, ev.Properties.Topic)
		case "Opportunity Created", "Deal Won", "Deal Lost":
			require.Equal(t, key, ev.Context.GroupID)
			require.Positive(t, ev.Properties.Amount)
			require.NotEmpty(t, ev.Properties.Currency)
		}
	case event.TypeAlias:
		require.NotEmpty(t, ev.PreviousID)
	}
}

func TestDeterministic(t *testing.T) {
	collect := func(cfg Config) []Record {
		g := New(cfg)
		recs := make([]Record, 5000)
		for i := range recs {
			recs[i] = g.Next()
		}
		return recs
	}
	a := collect(Config{Seed: 7})
	require.Equal(t, a, collect(Config{Seed: 7}), "same seed, same bytes")
	b := collect(Config{Seed: 8})
	require.NotEqual(t, a[100].Value, b[100].Value, "another seed, another stream")
	c := collect(Config{Seed: 7, Accounts: 50})
	require.NotEqual(t, a, c)
}

func TestConfig(t *testing.T) {
	def := DefaultConfig()
	require.Equal(t, def, Config{}.WithDefaults())
	got := Config{Seed: 3, Accounts: 10, MeanGap: time.Minute, MalformedRate: -1, DuplicateRate: 2}.WithDefaults()
	require.Equal(t, Config{Seed: 3, Accounts: 10, Start: def.Start, MeanGap: time.Minute, MalformedRate: 0, DuplicateRate: 1}, got)

	// Negative rates switch malformed and duplicate records off.
	g := New(Config{Seed: 1, Accounts: 5, MalformedRate: -1, DuplicateRate: -1})
	var ev event.Event
	for range 5000 {
		rec := g.Next()
		require.False(t, rec.Malformed || rec.Duplicate)
		require.NoError(t, event.Decode(rec.Value, &ev, event.DefaultLimits()))
	}
}

func TestWriteJSONLines(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteJSONLines(&buf, New(Config{Seed: 5}), 2000))
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	ref := New(Config{Seed: 5})
	lines := 0
	for sc.Scan() {
		require.Equal(t, ref.Next().Value, sc.Bytes())
		lines++
	}
	require.NoError(t, sc.Err())
	require.Equal(t, 2000, lines)

	err := WriteJSONLines(failingWriter{}, New(Config{Seed: 5}), 1000)
	require.ErrorContains(t, err, "write json lines: disk full")
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func BenchmarkNext(b *testing.B) {
	g := New(Config{Seed: 1})
	size := 0
	for range 10_000 {
		size += len(g.Next().Value)
	}
	b.SetBytes(int64(size / 10_000))
	b.ReportAllocs()
	for b.Loop() {
		g.Next()
	}
}
