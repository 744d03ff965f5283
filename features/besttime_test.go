package features

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/event"
)

func TestHours(t *testing.T) {
	berlin := Location("Europe/Berlin")
	require.NotNil(t, berlin)
	require.Nil(t, Location("Mars/Olympus"))
	require.Nil(t, Location(""))

	var h Hours
	// 2026-03-03 is a Tuesday. 09:15 UTC is 10:15 in Berlin (CET, +1).
	tue := time.Date(2026, 3, 3, 9, 15, 0, 0, time.UTC)
	h.Add(tue, berlin)
	h.Add(tue.Add(20*time.Minute), berlin)
	h.Add(tue.Add(7*24*time.Hour), berlin)            // next Tuesday, same hour
	h.Add(tue.Add(24*time.Hour), nil)                 // Wednesday 09:xx UTC
	h.Add(tue.Add(-2*24*time.Hour+14*time.Hour), nil) // Sunday 23:15 UTC
	require.Equal(t, []string{"Tue 10:00", "Wed 09:00", "Sun 23:00"}, h.Best(3, nil))
	require.Equal(t, []string{"Tue 10:00"}, h.Best(1, nil))
	require.Len(t, h.Slots, 3)

	// Summer time: 09:15 UTC in July is 11:15 in Berlin (CEST, +2).
	var s Hours
	s.Add(time.Date(2026, 7, 6, 9, 15, 0, 0, time.UTC), berlin) // a Monday
	require.Equal(t, []string{"Mon 11:00"}, s.Best(3, nil))

	// Ties go to the earlier hour of the week.
	var tie Hours
	tie.Add(tue.Add(24*time.Hour), nil)
	tie.Add(tue, nil)
	require.Equal(t, []string{"Tue 09:00", "Wed 09:00"}, tie.Best(3, nil))

	// Counts halve at the ceiling, keeping the order.
	var big Hours
	big.Slots = []HourCount{{Slot: 1, N: maxHourCount - 1}, {Slot: 2, N: 1}, {Slot: 3, N: 5}}
	big.Add(time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC), nil) // Monday 01:00, slot 1
	require.Equal(t, []HourCount{{Slot: 1, N: maxHourCount / 2}, {Slot: 3, N: 2}}, big.Slots)
}

func TestIsTouch(t *testing.T) {
	for name, want := range map[string]bool{
		"Email Opened": true, "email link clicked": true, "Email Replied": true, "Chat Started": true,
		"Email Delivered": false, "Form Submitted": false,
	} {
		require.Equal(t, want, IsTouch(&event.Event{Type: event.TypeTrack, Event: name}), name)
	}
	require.False(t, IsTouch(&event.Event{Type: event.TypePage, Event: "Email Opened"}))
}

// Merging two histograms equals adding both touch streams to one.
func TestHoursMerge(t *testing.T) {
	base := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC) // a Monday
	var a, b, both Hours
	for i := range 300 {
		at := base.Add(time.Duration(i*37%168) * time.Hour)
		if i%3 == 0 {
			a.Add(at, nil)
		} else {
			b.Add(at, nil)
		}
		both.Add(at, nil)
	}
	a.Merge(&b)
	require.Equal(t, both.Slots, a.Slots)
	a.Merge(&Hours{})
	require.Equal(t, both.Slots, a.Slots)
}
