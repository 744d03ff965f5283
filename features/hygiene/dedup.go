package hygiene

import (
	"cmp"
	"container/heap"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"
)

// Action is what the caller does with a duplicate.
type Action uint8

// Actions a policy can take.
const (
	// ActionMerge merges the new lead into the existing one, keeping the
	// new lead's source as a link; the existing owner keeps the lead.
	ActionMerge Action = iota + 1
	// ActionReassign merges like ActionMerge, but the new lead's owner
	// takes the merged lead; the previous owner is notified when the
	// policy says so.
	ActionReassign
	// ActionTag only marks the new lead as a possible duplicate of the
	// existing one; both stay.
	ActionTag
)

// String is the config spelling.
func (a Action) String() string {
	switch a {
	case ActionMerge:
		return "merge"
	case ActionReassign:
		return "reassign"
	case ActionTag:
		return "tag"
	}
	return "none"
}

// ParseAction reads "merge", "reassign" or "tag".
func ParseAction(s string) (Action, error) {
	switch s {
	case "merge":
		return ActionMerge, nil
	case "reassign":
		return ActionReassign, nil
	case "tag":
		return ActionTag, nil
	}
	return 0, fmt.Errorf("parse action: %q is not merge, reassign or tag", s)
}

// MarshalText writes the config spelling (JSON and YAML use it).
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText reads the config spelling.
func (a *Action) UnmarshalText(b []byte) error {
	v, err := ParseAction(string(b))
	*a = v
	return err
}

// Lead is what de-duplication knows about a lead.
type Lead struct {
	// ID is the lead's id (the userId, or the CRM's id).
	ID string `json:"id"`
	// Owner is the sales owner, if assigned.
	Owner string `json:"owner,omitempty"`
	// Source is where the lead came from (form, campaign, record); a merge
	// keeps it as a link on the surviving lead.
	Source string `json:"source,omitempty"`
	// MergedInto is the surviving lead's id when this lead was merged into
	// another: Match then reports the survivor, not this lead. Set it from
	// the Merge you applied before calling Add.
	MergedInto string `json:"merged_into,omitempty"`
	// IntoAccount is the survivor's account when MergedInto is set.
	IntoAccount string `json:"into_account,omitempty"`
	// Contact is the normalised contact data (Verdict.Contact).
	Contact Contact `json:"contact"`
	// Account is the account the lead's events are scored under ("" for
	// none yet), where a merge finds its state.
	Account string `json:"account,omitempty"`
}

// survivor is the id a duplicate of l merges into.
func (l *Lead) survivor() string {
	if l.MergedInto != "" {
		return l.MergedInto
	}
	return l.ID
}

// Merge is a de-duplication decision: the new lead duplicates an existing
// one. The caller records and applies it.
type Merge struct {
	// LeadID is the new lead; ExistingID the lead it duplicates (the
	// survivor, when the matched lead was itself merged); MatchedID the
	// remembered lead that matched (ExistingID or a lead merged into it).
	LeadID     string `json:"lead_id"`
	ExistingID string `json:"existing_id"` // the survivor to merge into
	MatchedID  string `json:"matched_id"`  // the remembered lead that matched
	// ExistingAccount is the survivor's account ("" when unknown).
	ExistingAccount string `json:"existing_account,omitempty"`
	// Policy is the policy's name, Kind its kind.
	Policy string `json:"policy"`
	Kind   string `json:"kind"` // phone, email, wechat or company
	// Rule is what matched: "phone=+8613812345678",
	// "company~0.92+domain=acme.com".
	Rule string `json:"rule"`
	// Score is the match strength: 1 for a key, the name similarity for
	// a company.
	Score  float64 `json:"score"`
	Action Action  `json:"action"` // the policy's action
	// Owner is the merged lead's owner after the action: the existing
	// owner for merge and tag, the new lead's for reassign (the existing
	// one if the new lead has none).
	Owner string `json:"owner,omitempty"`
	// NotifyOwner is the previous owner to notify ("" when nobody is): set
	// for reassign with notify when the owner changes.
	NotifyOwner string `json:"notify_owner,omitempty"`
	// Source is the new lead's source, the link the merge keeps.
	Source string `json:"source,omitempty"`
	// ExistingAt is the event time the existing lead was last added.
	ExistingAt time.Time `json:"existing_at"`
}

// dedupRules is the compiled policies.
type dedupRules struct {
	policies   []policy
	maxWindow  time.Duration
	maxEntries int
	maxPerKey  int
	kinds      [4]bool // which key kinds any policy uses: phone, email, wechat, company
}

type policy struct {
	name      string
	kind      string
	with      []string
	threshold float64
	window    time.Duration
	action    Action
	notify    bool
}

func buildDedupRules(cfg DedupConfig) (dedupRules, error) {
	r := dedupRules{maxEntries: cfg.MaxEntries, maxPerKey: cfg.MaxPerKey}
	for _, p := range cfg.Policies {
		a, err := ParseAction(p.Action)
		if err != nil {
			return r, fmt.Errorf("build dedup policy %q: %w", p.Name, err)
		}
		r.policies = append(r.policies, policy{
			name: p.Name, kind: p.Kind, with: p.With, threshold: p.Threshold,
			window: time.Duration(p.Window), action: a, notify: p.Notify,
		})
		r.maxWindow = max(r.maxWindow, time.Duration(p.Window))
		r.kinds[kindIndex(p.Kind)] = true
	}
	return r, nil
}

func kindIndex(k string) int {
	switch k {
	case KindPhone:
		return 0
	case KindEmail:
		return 1
	case KindWechat:
		return 2
	}
	return 3
}

// Key prefixes: a blocking key is its kind's prefix and a value.
const (
	keyPhone   = "p:"
	keyEmail   = "e:"
	keyWechat  = "w:"
	keyCompany = "c:"
)

// Keys returns the blocking keys of l under the configured policies,
// without duplicates: "p:" and the E.164 phone, "e:" and the e-mail key,
// "w:" and the WeChat id, and for company policies "c:" and the start of
// the company core (two runes when it starts with a CJK character, else
// three letters; spaces removed), so names that can match share a key.
//
// Re-keying requirement: duplicates can only meet in one DedupIndex.
// Before the index, the pipeline must send each lead through a Kafka topic
// once per distinct partition of its keys (the partition of a key is the
// topic's partitioner over the key), and the index of each partition must
// own exactly the keys that map to it (NewDedupIndex's owns). A name whose
// first characters differ from its duplicate's (a typo in the first
// letters) is not found: the price of a bounded block.
func (c *Checker) Keys(l *Lead) []string { return c.dedup.keys(l) }

// keys returns l's blocking keys, in two allocations: the slice and one
// block for their bytes.
func (r *dedupRules) keys(l *Lead) []string {
	if r.keysSize(l) == 0 {
		return nil
	}
	dst, _ := r.appendKeys(make([]string, 0, len(r.kinds)), make([]byte, 0, r.keysSize(l)), l)
	return dst
}

// keysSize bounds the bytes of l's blocking keys from above.
func (r *dedupRules) keysSize(l *Lead) int {
	ct := &l.Contact
	n := 0
	if r.kinds[0] && ct.Phone != "" {
		n += len(keyPhone) + len(ct.Phone)
	}
	if r.kinds[1] && ct.EmailKey != "" {
		n += len(keyEmail) + len(ct.EmailKey)
	}
	if r.kinds[2] && ct.Wechat != "" {
		n += len(keyWechat) + len(ct.Wechat)
	}
	if r.kinds[3] && ct.Company.Core != "" {
		n += len(keyCompany) + 3*utf8.UTFMax // invalid UTF-8 reads as U+FFFD, 3 bytes
	}
	return n
}

// appendKeys appends l's blocking keys to dst and their bytes to buf, and
// returns both. Each kind has its own prefix, so no key repeats. The keys
// point into the returned buf's array, past buf's length on entry: they
// are valid while nothing overwrites that part of it. With buf's capacity
// at least keysSize(l) more than its length, nothing is allocated.
func (r *dedupRules) appendKeys(dst []string, buf []byte, l *Lead) ([]string, []byte) {
	ct := &l.Contact
	var ends [len(r.kinds) + 1]int
	ends[0] = len(buf)
	n := 0
	add := func(prefix, v string) {
		buf = append(append(buf, prefix...), v...)
		n++
		ends[n] = len(buf)
	}
	if r.kinds[0] && ct.Phone != "" {
		add(keyPhone, ct.Phone)
	}
	if r.kinds[1] && ct.EmailKey != "" {
		add(keyEmail, ct.EmailKey)
	}
	if r.kinds[2] && ct.Wechat != "" {
		add(keyWechat, ct.Wechat)
	}
	if r.kinds[3] && ct.Company.Core != "" {
		if b := appendCompanyBlock(append(buf, keyCompany...), ct.Company.Core); len(b) > len(buf)+len(keyCompany) {
			buf = b
			n++
			ends[n] = len(buf)
		}
	}
	// The strings are made last: an append above may have moved buf.
	for i := range n {
		dst = append(dst, unsafe.String(&buf[ends[i]], ends[i+1]-ends[i]))
	}
	return dst, buf
}

// appendCompanyBlock appends the start of a core: two runes if the first
// is CJK, else three; spaces removed.
func appendCompanyBlock(dst []byte, core string) []byte {
	if core == "" {
		return dst
	}
	first, _ := utf8.DecodeRuneInString(core)
	n := 3
	if isCJK(first) {
		n = 2
	}
	for _, r := range core {
		if r == ' ' {
			continue
		}
		dst = utf8.AppendRune(dst, r)
		if n--; n == 0 {
			break
		}
	}
	return dst
}

// DedupEntry is one remembered lead, the unit of snapshots and of the
// changelog (key it by Lead.ID).
type DedupEntry struct {
	Lead Lead `json:"lead"` // the lead as last added
	// At is the event time of the lead's latest Add.
	At time.Time `json:"at"`
}

// DedupIndex remembers recent leads of one partition and finds the
// duplicates of new ones. It belongs to one partition worker: no locks.
// Time is event time only: entries expire when the newest event time
// added is more than the longest policy window past them.
type DedupIndex struct {
	rules   *dedupRules
	names   *names
	owns    func(key string) bool
	byID    map[string]*dedupRecord
	byKey   map[string][]*dedupRecord
	byAge   ageHeap
	newest  time.Time
	dirty   map[string]struct{}
	evicted uint64
	// scratch: the keys of the lead being matched or added, pointing into
	// keyBytes, valid until the next call
	keyBuf   []string
	keyBytes []byte
}

// dedupRecord is a remembered lead. Its strings and keys point into one
// block of its own (newRecord).
type dedupRecord struct {
	DedupEntry
	keys   []string // owned keys, in keyArr
	keyArr [len(dedupRules{}.kinds)]string
	idx    int // in byAge
}

// NewDedupIndex returns an empty index for one partition worker. owns
// says which blocking keys this partition is responsible for (see Keys);
// nil owns every key (a single partition). owns must not keep the key it
// is given: it is valid only during the call.
func (c *Checker) NewDedupIndex(owns func(key string) bool) *DedupIndex {
	return &DedupIndex{
		rules: &c.dedup, names: c.names, owns: owns,
		byID: map[string]*dedupRecord{}, byKey: map[string][]*dedupRecord{},
		dirty: map[string]struct{}{},
	}
}

// Keys is Checker.Keys.
func (x *DedupIndex) Keys(l *Lead) []string { return x.rules.keys(l) }

// scratchKeys sets keyBuf to l's keys this index owns.
func (x *DedupIndex) scratchKeys(l *Lead) {
	if need := x.rules.keysSize(l); cap(x.keyBytes) < need {
		x.keyBytes = make([]byte, 0, max(need, 2*cap(x.keyBytes)))
	}
	x.keyBuf, x.keyBytes = x.rules.appendKeys(x.keyBuf[:0], x.keyBytes[:0], l)
	if x.owns != nil {
		x.keyBuf = slices.DeleteFunc(x.keyBuf, func(k string) bool { return !x.owns(k) })
	}
}

// Len is the number of leads remembered.
func (x *DedupIndex) Len() int { return len(x.byID) }

// Evicted counts leads dropped before their window ended, to stay within
// max_entries or max_per_key.
func (x *DedupIndex) Evicted() uint64 { return x.evicted }

// Match finds the lead l duplicates, by the first policy (in config
// order) with a match among the leads remembered under l's owned keys and
// within the policy's window before at (leads remembered with a later
// event time count too: events arrive out of order). Within a policy the
// best match wins: highest score, then the oldest lead, then the smallest
// id. A remembered lead with l's id (or merged into it) is not a
// duplicate. Match does not change the index.
func (x *DedupIndex) Match(l *Lead, at time.Time) (Merge, bool) {
	x.scratchKeys(l)
	for pi := range x.rules.policies {
		p := &x.rules.policies[pi]
		var best *dedupRecord
		var bestScore float64
		for _, k := range x.keyBuf {
			if !strings.HasPrefix(k, kindPrefix(p.kind)) {
				continue
			}
			for _, r := range x.byKey[k] {
				if r.Lead.ID == l.ID || r.Lead.survivor() == l.ID || at.Sub(r.At) > p.window {
					continue
				}
				score, ok := x.matchPolicy(p, l, &r.Lead)
				if !ok {
					continue
				}
				if best == nil || score > bestScore || score == bestScore &&
					(r.At.Before(best.At) || r.At.Equal(best.At) && r.Lead.ID < best.Lead.ID) {
					best, bestScore = r, score
				}
			}
		}
		if best != nil {
			return x.decide(p, l, best, bestScore), true
		}
	}
	return Merge{}, false
}

func kindPrefix(kind string) string {
	switch kind {
	case KindPhone:
		return keyPhone
	case KindEmail:
		return keyEmail
	case KindWechat:
		return keyWechat
	}
	return keyCompany
}

// matchPolicy checks l against a remembered lead under p.
func (x *DedupIndex) matchPolicy(p *policy, l, o *Lead) (float64, bool) {
	a, b := &l.Contact, &o.Contact
	switch p.kind {
	case KindPhone:
		return 1, a.Phone != "" && a.Phone == b.Phone
	case KindEmail:
		return 1, a.EmailKey != "" && a.EmailKey == b.EmailKey
	case KindWechat:
		return 1, a.Wechat != "" && a.Wechat == b.Wechat
	}
	s := x.names.similarity(a.Company, b.Company)
	if s < p.threshold {
		return s, false
	}
	if len(p.with) == 0 {
		return s, true
	}
	for _, w := range p.with {
		if withMatches(w, a, b) {
			return s, true
		}
	}
	return s, false
}

func withMatches(w string, a, b *Contact) bool {
	switch w {
	case WithDomain:
		return a.CompanyDomain != "" && a.CompanyDomain == b.CompanyDomain
	case WithRegion:
		return a.Region != "" && a.Region == b.Region
	case WithPhone:
		return a.Phone != "" && a.Phone == b.Phone
	}
	return false
}

// rule describes what matched, for Merge.Rule.
func rule(p *policy, l, o *Lead, score float64) string {
	a, b := &l.Contact, &o.Contact
	switch p.kind {
	case KindPhone:
		return "phone=" + a.Phone
	case KindEmail:
		return "email=" + a.EmailKey
	case KindWechat:
		return "wechat=" + a.Wechat
	}
	r := "company~" + strconv.FormatFloat(score, 'f', 2, 64)
	for _, w := range p.with {
		if withMatches(w, a, b) {
			switch w {
			case WithDomain:
				return r + "+domain=" + a.CompanyDomain
			case WithRegion:
				return r + "+region=" + a.Region
			case WithPhone:
				return r + "+phone=" + a.Phone
			}
		}
	}
	return r
}

func (x *DedupIndex) decide(p *policy, l *Lead, r *dedupRecord, score float64) Merge {
	m := Merge{
		LeadID: l.ID, ExistingID: r.Lead.survivor(), MatchedID: r.Lead.ID,
		Policy: p.name, Kind: p.kind, Rule: rule(p, l, &r.Lead, score), Score: score,
		Action: p.action, Owner: r.Lead.Owner, Source: l.Source, ExistingAt: r.At,
		ExistingAccount: r.Lead.Account,
	}
	if r.Lead.MergedInto != "" {
		m.ExistingAccount = r.Lead.IntoAccount
	}
	if p.action == ActionReassign && l.Owner != "" {
		m.Owner = l.Owner
		if p.notify && r.Lead.Owner != "" && r.Lead.Owner != l.Owner {
			m.NotifyOwner = r.Lead.Owner
		}
	}
	return m
}

// Add remembers l as of event time at, under its owned keys, replacing
// an earlier entry with its id (the later event time is kept). Leads with
// no owned key are not kept. Then entries older than the longest window
// before the newest event time expire, and the oldest go while the index
// is over max_entries. What it keeps of l is copied.
func (x *DedupIndex) Add(l Lead, at time.Time) {
	if old, ok := x.byID[l.ID]; ok {
		if old.At.After(at) {
			at = old.At
		}
		x.remove(old)
	}
	x.scratchKeys(&l)
	if len(x.keyBuf) > 0 {
		r := newRecord(&l, at, x.keyBuf)
		x.dirty[r.Lead.ID] = struct{}{}
		x.byID[r.Lead.ID] = r
		heap.Push(&x.byAge, r)
		for _, k := range r.keys {
			b := x.byKey[k]
			if len(b) >= x.rules.maxPerKey {
				oldest := slices.MinFunc(b, func(a, b *dedupRecord) int { return a.At.Compare(b.At) })
				x.unlinkKey(oldest, k)
				x.evicted++
				b = x.byKey[k]
			}
			x.byKey[k] = append(b, r)
		}
	}
	if at.After(x.newest) {
		x.newest = at
	}
	x.Expire(x.newest)
	for len(x.byID) > x.rules.maxEntries {
		x.remove(x.byAge[0])
		x.evicted++
	}
}

// newRecord returns a record of l under keys, with l's strings and the
// keys copied into one block: the index keeps a lead for a policy window,
// and must not pin whatever larger buffer l's strings may point into.
func newRecord(l *Lead, at time.Time, keys []string) *dedupRecord {
	r := &dedupRecord{DedupEntry: DedupEntry{Lead: *l, At: at}}
	strs := leadStrings(&r.Lead)
	n := 0
	for _, s := range strs {
		n += len(*s)
	}
	for _, k := range keys {
		n += len(k)
	}
	b := make([]byte, 0, n)
	keep := func(s string) string {
		if s == "" {
			return ""
		}
		i := len(b)
		b = append(b, s...)
		return unsafe.String(&b[i], len(s))
	}
	for _, s := range strs {
		*s = keep(*s)
	}
	r.keys = r.keyArr[:len(keys)]
	for i, k := range keys {
		r.keys[i] = keep(k)
	}
	return r
}

// leadStrings returns l's string fields (TestNewRecordCopies checks that
// none is missing).
func leadStrings(l *Lead) [16]*string {
	c := &l.Contact
	return [...]*string{&l.ID, &l.Owner, &l.Source, &l.MergedInto, &l.IntoAccount, &l.Account,
		&c.Email, &c.EmailDomain, &c.EmailKey, &c.Phone, &c.Wechat, &c.Company.Core, &c.Company.Region,
		&c.Company.Industry, &c.CompanyDomain, &c.Region}
}

// Expire drops the entries more than the longest window before now (an
// event time: the partition's newest, when it has been idle) and returns
// how many.
func (x *DedupIndex) Expire(now time.Time) int {
	n := 0
	cut := now.Add(-x.rules.maxWindow)
	for len(x.byAge) > 0 && x.byAge[0].At.Before(cut) {
		x.remove(x.byAge[0])
		n++
	}
	return n
}

// unlinkKey removes r from one key's bucket; a record left under no key
// is forgotten.
func (x *DedupIndex) unlinkKey(r *dedupRecord, k string) {
	b := x.byKey[k]
	if i := slices.Index(b, r); i >= 0 {
		b = slices.Delete(b, i, i+1)
	}
	if len(b) == 0 {
		delete(x.byKey, k)
	} else {
		x.byKey[k] = b
	}
	if i := slices.Index(r.keys, k); i >= 0 {
		r.keys = slices.Delete(r.keys, i, i+1)
	}
	if len(r.keys) == 0 {
		x.remove(r)
	}
}

// remove forgets r entirely.
func (x *DedupIndex) remove(r *dedupRecord) {
	if x.byID[r.Lead.ID] != r {
		return
	}
	for _, k := range r.keys {
		b := x.byKey[k]
		if i := slices.Index(b, r); i >= 0 {
			b = slices.Delete(b, i, i+1)
		}
		if len(b) == 0 {
			delete(x.byKey, k)
		} else {
			x.byKey[k] = b
		}
	}
	r.keys = nil
	heap.Remove(&x.byAge, r.idx)
	delete(x.byID, r.Lead.ID)
	x.dirty[r.Lead.ID] = struct{}{}
}

// Snapshot returns every entry, oldest first (ties by id): what a full
// changelog compaction or a test saves.
func (x *DedupIndex) Snapshot() []DedupEntry {
	out := make([]DedupEntry, 0, len(x.byID))
	for _, r := range x.byID {
		out = append(out, r.DedupEntry)
	}
	slices.SortFunc(out, func(a, b DedupEntry) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return cmp.Compare(a.Lead.ID, b.Lead.ID)
	})
	return out
}

// Changes calls fn for every lead added, replaced or removed since the
// last call (e nil when removed), in id order, then forgets them: the
// records an incremental changelog writes (key: the id).
func (x *DedupIndex) Changes(fn func(id string, e *DedupEntry)) {
	ids := make([]string, 0, len(x.dirty))
	for id := range x.dirty {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if r, ok := x.byID[id]; ok {
			e := r.DedupEntry
			fn(id, &e)
		} else {
			fn(id, nil)
		}
		delete(x.dirty, id)
	}
}

// Restore puts saved entries back (after a restart or rebalance), as Add
// would, keeping only the keys this index owns; it records no changes.
func (x *DedupIndex) Restore(entries []DedupEntry) {
	for _, e := range entries {
		x.Add(e.Lead, e.At)
	}
	clear(x.dirty)
}

// ageHeap orders records by event time, oldest first.
type ageHeap []*dedupRecord

func (h ageHeap) Len() int { return len(h) }
func (h ageHeap) Less(i, j int) bool {
	if c := h[i].At.Compare(h[j].At); c != 0 {
		return c < 0
	}
	return h[i].Lead.ID < h[j].Lead.ID
}
func (h ageHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].idx = i; h[j].idx = j }
func (h *ageHeap) Push(v any)   { r := v.(*dedupRecord); r.idx = len(*h); *h = append(*h, r) }
func (h *ageHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return r
}
