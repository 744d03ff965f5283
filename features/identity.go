package features

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unsafe"

	"github.com/leadscore/leadscore/internal/event"
)

//go:embed data/freemail.txt
var freemailList string

// Method says how an event was resolved to an account.
type Method uint8

// Resolution methods, in the order CONTRACT section 1 tries them.
const (
	MethodNone   Method = iota // anonymous: no account yet
	MethodGroup                // context.groupId, a group call's groupId, or an account-only event's domain
	MethodPerson               // the company domain of a known person, or a person already linked
	MethodIP                   // the visitor's IP matched to a company
)

// String names the method for logs and metrics.
func (m Method) String() string {
	switch m {
	case MethodGroup:
		return "group"
	case MethodPerson:
		return "person"
	case MethodIP:
		return "ip"
	}
	return "none"
}

// IPMatcher matches a visitor IP to a company account. It is the seam for
// range databases; ISP, mobile and hosting ranges must not match.
type IPMatcher interface {
	MatchIP(ip string) (account string, ok bool)
}

// Pending is an anonymous visitor's event kept until an identify, alias or
// group call links the visitor to an account; then it is scored there.
type Pending struct {
	Type  event.Type     `json:"type"`
	Event string         `json:"event,omitempty"`
	Path  string         `json:"path,omitempty"`
	Time  time.Time      `json:"time"`
	UTM   event.Campaign `json:"utm"`
	// Props is the event's properties object, for rules on properties,
	// when it is at most maxPendingProps bytes.
	Props json.RawMessage `json:"props,omitempty"`
	// Timezone is context.timezone, for the best time to contact.
	Timezone string `json:"tz,omitempty"`
	// Referrer is the page's referrer, for the channel.
	Referrer string `json:"ref,omitempty"`
}

// maxPendingProps bounds the properties kept with a parked event.
const maxPendingProps = 1024

// Restore rebuilds the parts of an event the scorer reads. The event's
// strings and properties are p's (no copies).
func (p *Pending) Restore(ev *event.Event) {
	*ev = event.Event{Type: p.Type, Event: p.Event, Time: p.Time}
	ev.Properties.Path = p.Path
	ev.Context.Campaign = p.UTM
	ev.Context.Timezone = p.Timezone
	ev.Context.Page.Referrer = p.Referrer
	if len(p.Props) > 0 {
		ev.SetPropertiesJSON(p.Props)
	}
}

// newPending returns what Park keeps of ev. Its strings and properties are
// copied into one block of their own: the event's strings share a slab of
// the decoder with other events (see event.Decode), which a parked event,
// kept for as long as its visitor stays anonymous, must not pin.
func newPending(ev *event.Event) Pending {
	pe := Pending{
		Type: ev.Type, Event: ev.Event, Path: ev.PagePath(), Time: ev.Time, UTM: ev.Context.Campaign,
		Timezone: ev.Context.Timezone, Referrer: ev.Context.Page.Referrer,
	}
	if pe.Referrer == "" {
		pe.Referrer = ev.Properties.Referrer
	}
	props := ev.PropertiesJSON()
	if len(props) <= 2 || len(props) > maxPendingProps {
		props = nil
	}
	strs := [...]*string{&pe.Event, &pe.Path, &pe.UTM.Source, &pe.UTM.Medium, &pe.UTM.Name, &pe.UTM.Term,
		&pe.UTM.Content, &pe.Timezone, &pe.Referrer}
	n := len(props)
	for _, s := range strs {
		n += len(*s)
	}
	if n == 0 {
		return pe
	}
	b := make([]byte, 0, n)
	for _, s := range strs {
		if len(*s) > 0 {
			i := len(b)
			b = append(b, *s...)
			*s = unsafe.String(&b[i], len(*s))
		}
	}
	if props != nil {
		i := len(b)
		b = append(b, props...)
		pe.Props = b[i:len(b):len(b)]
	}
	return pe
}

// Identity resolves events to accounts and remembers which person ids
// (userId, anonymousId) belong to which account. One per partition worker.
type Identity struct {
	persons map[string]string  // "u:"+userId or "a:"+anonymousId -> account
	pending map[string]visitor // person key -> anonymous events
	// changed since the last Changes: person keys and visitor keys.
	dirtyPersons  map[string]struct{}
	dirtyVisitors map[string]struct{}
	freemail      map[string]struct{}
	ip            IPMatcher
	maxPending    int
	dropped       uint64
	store         Spill  // links and pending events evicted from memory; nil: none
	kbuf          []byte // scratch for person keys looked up, not kept
	maxAccount    int    // CheckAccount's bound on an account id's bytes
}

// visitor is an anonymous visitor's pending events, oldest first, with the
// map key it is stored under, so that marking it dirty needs no new string.
type visitor struct {
	key    string
	events []Pending
}

// Spill holds person links and visitors' pending events evicted from
// memory (the local state store). Lookup reports a link it holds;
// TakePending returns a visitor's pending events and removes them from the
// store (they are resident again). A store that fails reports not found and
// keeps the error for its owner to act on.
// The key's bytes are valid only during the call.
type Spill interface {
	Lookup(key []byte) (account string, ok bool)
	TakePending(key []byte) ([]Pending, bool)
}

// SetSpill sets where evicted links and pending events are looked up.
func (id *Identity) SetSpill(s Spill) { id.store = s }

// loadPending makes key's pending events resident if the store holds them.
func (id *Identity) loadPending(key []byte) {
	if id.store == nil {
		return
	}
	if _, ok := id.pending[string(key)]; ok {
		return
	}
	if p, ok := id.store.TakePending(key); ok {
		k := string(key)
		id.pending[k] = visitor{key: k, events: p}
	}
}

// key builds the person key prefix+":"+v in the resolver's scratch buffer,
// valid until the next call: map lookups with it allocate nothing.
func (id *Identity) key(prefix byte, v string) []byte {
	id.kbuf = append(append(id.kbuf[:0], prefix, ':'), v...)
	return id.kbuf
}

// EvictPending moves visitors' pending events not changed since the last
// Changes out of memory once more than limit visitors are resident, down
// to 90 % of it, handing each to spill (map order, as EvictPersons).
func (id *Identity) EvictPending(limit int, spill func(key string, p []Pending) error) (int, error) {
	if limit <= 0 || len(id.pending) <= limit {
		return 0, nil
	}
	target, n := limit-limit/10, 0
	for k, v := range id.pending {
		if len(id.pending) <= target {
			break
		}
		if _, dirty := id.dirtyVisitors[k]; dirty {
			continue
		}
		if err := spill(k, v.events); err != nil {
			return n, err
		}
		delete(id.pending, k)
		n++
	}
	return n, nil
}

// person returns key's link from memory or, reinstating it, from the store.
func (id *Identity) person(key []byte) (string, bool) {
	if a, ok := id.persons[string(key)]; ok {
		return a, true
	}
	if id.store != nil {
		if a, ok := id.store.Lookup(key); ok {
			id.persons[string(key)] = a
			return a, true
		}
	}
	return "", false
}

// EvictPersons moves links not changed since the last Changes out of
// memory once more than limit are resident, down to 90 % of it, handing
// each to spill. Which ones go is arbitrary (map order): a link costs a
// store lookup when its person returns, and most persons never do.
func (id *Identity) EvictPersons(limit int, spill func(key, account string) error) (int, error) {
	if limit <= 0 || len(id.persons) <= limit {
		return 0, nil
	}
	target, n := limit-limit/10, 0
	for k, a := range id.persons {
		if len(id.persons) <= target {
			break
		}
		if _, dirty := id.dirtyPersons[k]; dirty {
			continue
		}
		if err := spill(k, a); err != nil {
			return n, err
		}
		delete(id.persons, k)
		n++
	}
	return n, nil
}

// NewIdentity returns a resolver. ip may be nil. maxPending bounds the
// anonymous events kept per visitor; older ones are dropped (and counted)
// past it.
func NewIdentity(ip IPMatcher, maxPending int, extraFreemail []string) *Identity {
	id := &Identity{
		persons:       make(map[string]string),
		pending:       make(map[string]visitor),
		dirtyPersons:  make(map[string]struct{}),
		dirtyVisitors: make(map[string]struct{}),
		freemail:      make(map[string]struct{}),
		ip:            ip,
		maxPending:    maxPending,
		maxAccount:    DefaultMaxAccountIDBytes,
	}
	sc := bufio.NewScanner(strings.NewReader(freemailList))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && l[0] != '#' {
			id.freemail[l] = struct{}{}
		}
	}
	for _, d := range extraFreemail {
		id.freemail[strings.ToLower(strings.TrimSpace(d))] = struct{}{}
	}
	return id
}

// SetMaxAccountIDBytes sets the longest account id Resolve accepts from an
// event (engine.max_account_id_bytes); n <= 0 keeps the default.
func (id *Identity) SetMaxAccountIDBytes(n int) {
	if n > 0 {
		id.maxAccount = n
	}
}

// IsFreemail reports whether domain is a free-mail or disposable domain.
func (id *Identity) IsFreemail(domain string) bool {
	_, ok := id.freemail[strings.ToLower(domain)]
	return ok
}

// Resolve finds ev's account by CONTRACT section 1's order: group id, the
// company domain of a known person (or a person already linked), the
// visitor's IP, else none. An account id the event names that CheckAccount
// refuses is not taken: the input worker dead-letters such an event before
// (CheckNamed), and a company domain that is not an account id (a sign-up
// form's "-") leaves the e-mail domain to decide.
func (id *Identity) Resolve(ev *event.Event) (string, Method) {
	if g, _ := groupOf(ev); g != "" {
		if a := NormalizeAccount(g); CheckAccount(a, id.maxAccount) == nil {
			return a, MethodGroup
		}
	}
	if d := id.companyDomain(ev); d != "" {
		return d, MethodPerson
	}
	if ev.UserID != "" {
		if a, ok := id.person(id.key('u', ev.UserID)); ok {
			return a, MethodPerson
		}
	}
	if ev.AnonymousID != "" {
		if a, ok := id.person(id.key('a', ev.AnonymousID)); ok {
			return a, MethodPerson
		}
	}
	if ev.Type == event.TypeAlias && ev.PreviousID != "" {
		for _, p := range [2]byte{'u', 'a'} {
			if a, ok := id.person(id.key(p, ev.PreviousID)); ok {
				return a, MethodPerson
			}
		}
	}
	if id.ip != nil && ev.Context.IP != "" {
		if a, ok := id.ip.MatchIP(ev.Context.IP); ok {
			return a, MethodIP
		}
	}
	return "", MethodNone
}

// Linked returns the account ev's person is linked to already (its userId's
// link, else its anonymousId's), without linking anything.
func (id *Identity) Linked(ev *event.Event) (string, bool) {
	if ev.UserID != "" {
		if a, ok := id.person(id.key('u', ev.UserID)); ok {
			return a, true
		}
	}
	if ev.AnonymousID != "" {
		return id.person(id.key('a', ev.AnonymousID))
	}
	return "", false
}

// groupOf is the account an event names itself, and the field naming it: a
// group call's groupId, context.groupId, or properties.domain (intent and CRM
// events may carry only the account).
func groupOf(ev *event.Event) (string, string) {
	if ev.Type == event.TypeGroup && ev.GroupID != "" {
		return ev.GroupID, "groupId"
	}
	if ev.Context.GroupID != "" {
		return ev.Context.GroupID, "context.groupId"
	}
	if ev.Type == event.TypeTrack && ev.Properties.Domain != "" {
		return ev.Properties.Domain, "properties.domain"
	}
	return "", ""
}

// DefaultMaxAccountIDBytes is the default of engine.max_account_id_bytes:
// the longest DNS name.
const DefaultMaxAccountIDBytes = 255

// AccountError is an account id an event names (CONTRACT section 1, step 1)
// that cannot name an account. The input worker dead-letters the event with
// reason invalid_account. It says which field and what is wrong, never the
// id itself.
type AccountError struct {
	Field   string // groupId, context.groupId or properties.domain
	Problem string
}

func (e *AccountError) Error() string { return "invalid account id in " + e.Field + ": " + e.Problem }

// CheckNamed validates the account id ev names itself (groupOf: a group
// call's groupId, else context.groupId, else a track's properties.domain),
// as NormalizeAccount makes it, by CheckAccount. It returns an
// *AccountError, or nil when ev names none or a valid one. Such an id
// decides the account before anything else, so an unusable one cannot be
// passed over: the event goes to the dead-letter topic.
func CheckNamed(ev *event.Event, maxBytes int) error {
	g, field := groupOf(ev)
	if field == "" {
		return nil
	}
	if err := CheckAccount(NormalizeAccount(g), maxBytes); err != nil {
		return &AccountError{Field: field, Problem: err.Error()}
	}
	return nil
}

// Problems CheckAccount reports.
var (
	errAccountEmpty   = errors.New("empty after normalisation (blank)")
	errAccountControl = errors.New("a control character")
	errAccountBare    = errors.New("no letter and no digit but 0 (only punctuation, a scheme, www. or zeros)")
)

// CheckAccount reports why id, an account id as NormalizeAccount returns it,
// cannot name an account; nil when it can. An account id must
//   - not be empty (a blank groupId normalises to ""),
//   - be at most maxBytes bytes (<= 0: DefaultMaxAccountIDBytes),
//   - hold no control character, and
//   - have a letter or a digit 1-9 once a leading scheme ("https://") and
//     "www." are set aside: ".", "/", "-", "0", "0.0", "https://" and
//     "www." are what broken producers send, never a company. A number
//     other than zero ("42", a CRM's numeric id) is an id.
func CheckAccount(id string, maxBytes int) error {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxAccountIDBytes
	}
	if id == "" {
		return errAccountEmpty
	}
	if len(id) > maxBytes {
		return errors.New(strconv.Itoa(len(id)) + " bytes, limit " + strconv.Itoa(maxBytes) + " (engine.max_account_id_bytes)")
	}
	rest := id
	if i := strings.Index(rest, "://"); i >= 0 && isScheme(rest[:i]) {
		rest = rest[i+3:]
	}
	if len(rest) >= 4 && strings.EqualFold(rest[:4], "www.") {
		rest = rest[4:]
	}
	meaningful := false
	for _, r := range id {
		if unicode.IsControl(r) {
			return errAccountControl
		}
	}
	for _, r := range rest {
		if r >= '1' && r <= '9' || unicode.IsLetter(r) {
			meaningful = true
			break
		}
	}
	if !meaningful {
		return errAccountBare
	}
	return nil
}

// isScheme: a URL scheme (RFC 3986: a letter, then letters, digits, "+",
// "-", ".").
func isScheme(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range []byte(s) {
		letter := c|0x20 >= 'a' && c|0x20 <= 'z'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// companyDomain is step 2 for an identify call: traits.company.domain, else
// the e-mail's domain unless it is free-mail or disposable.
func (id *Identity) companyDomain(ev *event.Event) string {
	if ev.Type != event.TypeIdentify {
		return ""
	}
	if d := ev.Traits.Company.Domain; d != "" {
		if d = NormalizeAccount(d); CheckAccount(d, id.maxAccount) == nil {
			return d
		}
	}
	at := strings.LastIndexByte(ev.Traits.Email, '@')
	if at < 0 || at == len(ev.Traits.Email)-1 {
		return ""
	}
	d := NormalizeAccount(ev.Traits.Email[at+1:])
	if !looksLikeDomain(d) || id.IsFreemail(d) {
		return ""
	}
	return d
}

// Link records that ev's person ids belong to account and returns the
// anonymous events those ids had pending, oldest first, for the caller to
// score on the account (the caller owns the slice). An IP match does not
// link: it is evidence about one visit, not about the person. account may
// be one of ev's strings: a new link keeps a copy.
func (id *Identity) Link(ev *event.Event, account string, m Method) []Pending {
	if m == MethodNone || m == MethodIP || account == "" {
		return nil
	}
	var out []Pending
	link := func(prefix byte, v string) {
		key := id.key(prefix, v)
		if cur, _ := id.person(key); cur != account {
			// The key and a copy of the account in one allocation: a
			// link is kept for long, and account may point into the
			// decoder's slab.
			n := len(key)
			id.kbuf = append(key, account...)
			kv := string(id.kbuf)
			key = id.kbuf[:n]
			k := kv[:n]
			id.persons[k] = kv[n:]
			id.dirtyPersons[k] = struct{}{}
		}
		id.loadPending(key)
		if p, ok := id.pending[string(key)]; ok {
			if out == nil {
				out = p.events // handed over with the map entry: no copy
			} else {
				out = append(out, p.events...)
			}
			delete(id.pending, p.key)
			id.dirtyVisitors[p.key] = struct{}{}
		}
	}
	if ev.UserID != "" {
		link('u', ev.UserID)
	}
	if ev.AnonymousID != "" {
		link('a', ev.AnonymousID)
	}
	if ev.Type == event.TypeAlias && ev.PreviousID != "" {
		link('u', ev.PreviousID)
		link('a', ev.PreviousID)
	}
	if len(out) > 1 {
		sortPending(out)
	}
	return out
}

// Park keeps an unresolved event under its visitor until a link arrives.
// Only events the scorer could count are worth keeping; the caller decides.
// What it keeps of ev is copied (newPending); a known visitor's key is not.
func (id *Identity) Park(ev *event.Event) {
	var kb []byte
	switch {
	case ev.AnonymousID != "":
		kb = id.key('a', ev.AnonymousID)
	case ev.UserID != "":
		kb = id.key('u', ev.UserID)
	default:
		return
	}
	id.loadPending(kb)
	v, ok := id.pending[string(kb)]
	if !ok {
		v.key = string(kb) // a new visitor: its key is kept
	}
	p := v.events
	if len(p) >= id.maxPending {
		copy(p, p[1:])
		p = p[:len(p)-1]
		id.dropped++
	}
	v.events = append(p, newPending(ev))
	id.pending[v.key] = v
	id.dirtyVisitors[v.key] = struct{}{}
}

// Persons is the number of linked person ids; Visitors the number of
// anonymous visitors with pending events; Dropped the pending events dropped
// at the per-visitor bound.
func (id *Identity) Persons() int    { return len(id.persons) }
func (id *Identity) Visitors() int   { return len(id.pending) }
func (id *Identity) Dropped() uint64 { return id.dropped }

// Changes calls person for every person link and visitor for every
// visitor's pending events changed since the last call (pending is nil when
// the visitor's events were handed to an account), then forgets them. It is
// what the changelog saves.
func (id *Identity) Changes(person func(key, account string), visitor func(key string, pending []Pending)) {
	for k := range id.dirtyPersons {
		person(k, id.persons[k])
		delete(id.dirtyPersons, k)
	}
	for k := range id.dirtyVisitors {
		visitor(k, id.pending[k].events)
		delete(id.dirtyVisitors, k)
	}
}

// Resident reports whether key's link or pending events are in memory.
func (id *Identity) Resident(key string) bool {
	_, linked := id.persons[key]
	_, parked := id.pending[key]
	return linked || parked
}

// RestorePerson and RestorePending put saved state back, during a restore.
func (id *Identity) RestorePerson(key, account string) { id.persons[key] = account }

// RestorePending sets a visitor's pending events; nil removes them.
func (id *Identity) RestorePending(key string, pending []Pending) {
	if pending == nil {
		delete(id.pending, key)
		return
	}
	id.pending[key] = visitor{key: key, events: pending}
}

// sortPending orders merged pending events by time (insertion sort: the
// slices are short and mostly sorted).
func sortPending(p []Pending) {
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && p[j].Time.Before(p[j-1].Time); j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
}

// NormalizeAccount turns an account id into its canonical form: a bare
// lower-case domain when it looks like one ("https://www.Acme.com/x" ->
// "acme.com"), else the id with surrounding space trimmed.
func NormalizeAccount(s string) string {
	s = strings.TrimSpace(s)
	d := strings.ToLower(s)
	if i := strings.Index(d, "://"); i >= 0 {
		d = d[i+3:]
	}
	if i := strings.IndexAny(d, "/?#"); i >= 0 {
		d = d[:i]
	}
	if i := strings.LastIndexByte(d, ':'); i >= 0 && !strings.Contains(d[:i], ":") {
		d = d[:i] // port
	}
	d = strings.TrimSuffix(strings.TrimPrefix(d, "www."), ".")
	if looksLikeDomain(d) {
		return d
	}
	return s
}

// looksLikeDomain: at least two dot-separated labels of letters, digits and
// hyphens (lower case; Unicode letters allowed for internationalised names),
// the last one not all digits (not an IP).
func looksLikeDomain(d string) bool {
	if len(d) < 3 || len(d) > 253 {
		return false
	}
	if strings.IndexByte(d, '.') < 0 {
		return false
	}
	var tld string
	for rest := d; ; {
		l := rest
		i := strings.IndexByte(rest, '.')
		if i >= 0 {
			l, rest = rest[:i], rest[i+1:]
		}
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r > 127) {
				return false
			}
		}
		if i < 0 {
			tld = l
			break
		}
	}
	return strings.Trim(tld, "0123456789") != ""
}
