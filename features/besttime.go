package features

import (
	"strings"
	"sync"
	"time"

	"github.com/leadscore/leadscore/internal/event"
)

// Hours is an hour-of-week histogram of a contact's (or an account's)
// engagement touches: e-mail opens, clicks and replies and chats, counted in
// the contact's local time when its time zone is known, else UTC. It yields
// the best contact windows. The zero value is empty; only hours that saw a
// touch are stored, so a contact that never engages costs nothing.
type Hours struct {
	Slots []HourCount `json:"slots,omitempty"`
}

// HourCount is the touches in one hour of the week.
type HourCount struct {
	// Slot is the hour of the week: 0 is Monday 00:00-01:00, 167 Sunday
	// 23:00-24:00.
	Slot uint8  `json:"h"`
	N    uint32 `json:"n"`
}

// maxHourCount is where counts stop growing: all are halved when one
// reaches it, which keeps the proportions and lets recent habits win over
// years of old ones.
const maxHourCount = 1 << 16

// IsTouch reports whether ev is an engagement touch that counts for the
// best time to contact: a track event Email Opened, Email Link Clicked,
// Email Replied or Chat Started.
func IsTouch(ev *event.Event) bool {
	if ev.Type != event.TypeTrack {
		return false
	}
	for _, name := range [...]string{"Email Opened", "Email Link Clicked", "Email Replied", "Chat Started"} {
		if strings.EqualFold(ev.Event, name) {
			return true
		}
	}
	return false
}

// Add counts a touch at t, in loc (nil: UTC).
func (h *Hours) Add(t time.Time, loc *time.Location) {
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	wd := (int(lt.Weekday()) + 6) % 7 // Monday 0
	slot := uint8(wd*24 + lt.Hour())
	i := 0
	for i < len(h.Slots) && h.Slots[i].Slot < slot {
		i++
	}
	if i < len(h.Slots) && h.Slots[i].Slot == slot {
		h.Slots[i].N++
		if h.Slots[i].N >= maxHourCount {
			h.halve()
		}
		return
	}
	h.Slots = append(h.Slots, HourCount{})
	copy(h.Slots[i+1:], h.Slots[i:])
	h.Slots[i] = HourCount{Slot: slot, N: 1}
}

// Merge adds o's touches to h, hour by hour (a duplicate lead's habits
// join its survivor's).
func (h *Hours) Merge(o *Hours) {
	if len(o.Slots) == 0 {
		return
	}
	out := make([]HourCount, 0, len(h.Slots)+len(o.Slots))
	i, j := 0, 0
	over := false
	for i < len(h.Slots) || j < len(o.Slots) {
		switch {
		case j == len(o.Slots) || (i < len(h.Slots) && h.Slots[i].Slot < o.Slots[j].Slot):
			out = append(out, h.Slots[i])
			i++
		case i == len(h.Slots) || o.Slots[j].Slot < h.Slots[i].Slot:
			out = append(out, o.Slots[j])
			j++
		default:
			n := min(h.Slots[i].N+o.Slots[j].N, maxHourCount)
			over = over || n >= maxHourCount
			out = append(out, HourCount{Slot: h.Slots[i].Slot, N: n})
			i++
			j++
		}
	}
	h.Slots = out
	if over {
		h.halve()
	}
}

func (h *Hours) halve() {
	out := h.Slots[:0]
	for _, s := range h.Slots {
		if s.N /= 2; s.N > 0 {
			out = append(out, s)
		}
	}
	h.Slots = out
}

// Best appends to dst the n hours with the most touches, most first (the
// earlier hour of the week first on a tie), each as "Tue 10:00".
func (h *Hours) Best(n int, dst []string) []string {
	var buf [168]HourCount
	s := buf[:copy(buf[:], h.Slots)]
	for i := 0; i < n && i < len(s); i++ {
		best := i
		for j := i + 1; j < len(s); j++ {
			if s[j].N > s[best].N || (s[j].N == s[best].N && s[j].Slot < s[best].Slot) {
				best = j
			}
		}
		s[i], s[best] = s[best], s[i]
		dst = append(dst, slotName(s[i].Slot))
	}
	return dst
}

var weekdays = [7]string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}

func slotName(slot uint8) string {
	h := int(slot % 24)
	return weekdays[slot/24] + " " + string(rune('0'+h/10)) + string(rune('0'+h%10)) + ":00"
}

// locations caches time zones by IANA name (nil for names that do not
// load), up to maxLocations names so that junk input cannot grow it.
var (
	locMu     sync.Mutex
	locations = map[string]*time.Location{}
)

const maxLocations = 1024

// Location returns the time zone named by an IANA name such as
// "Europe/Berlin" (Segment's context.timezone), or nil when the name is
// empty or unknown.
func Location(name string) *time.Location {
	if name == "" || len(name) > 64 || name == "Local" {
		return nil
	}
	locMu.Lock()
	defer locMu.Unlock()
	if loc, ok := locations[name]; ok {
		return loc
	}
	// Kept as the map key and as the location's name: not the event's
	// string, which would pin its slab of the decoder (event.Decode).
	name = strings.Clone(name)
	loc, err := time.LoadLocation(name)
	if err != nil {
		loc = nil
	}
	if len(locations) < maxLocations {
		locations[name] = loc
	}
	return loc
}
