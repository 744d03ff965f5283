package sinks

import (
	"encoding/binary"
	"math"
	"slices"
	"time"

	"github.com/ClickHouse/ch-go/proto"

	"github.com/leadscore/leadscore/internal/rows"
)

// The column buffers of the ClickHouse sink. Write appends every row to
// per-table columns that are already in the native protocol's layout
// (ch-go's proto columns for numbers and times; strColumn for strings, which
// keeps them length-prefixed as they are sent; arrays as their values flat
// plus one offset per row), so a Flush encodes a column with one copy and
// no work per row, and the garbage collector has no pointers to scan in
// them. Reset keeps their capacity: a block that was sent is reused for the
// next one.

// dateTime converts t to what a DateTime column stores: seconds since the
// epoch in UTC, truncated, clamped to the column's unsigned 32-bit range
// (1970-01-01 .. 2106-02-07).
func dateTime(t time.Time) proto.DateTime {
	return proto.DateTime(min(max(t.Unix(), 0), math.MaxUint32))
}

// date converts t to what a Date column stores: days since the epoch of
// t's UTC day, clamped to the column's unsigned 16-bit range (1970-01-01 ..
// 2149-06-06).
func date(t time.Time) proto.Date {
	return proto.Date(min(max(t.Unix()/86400, 0), math.MaxUint16))
}

// uint8Flag converts b to what a UInt8 flag column (retracted) stores.
func uint8Flag(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// chBlock holds rows in columns, one chTable per table. A block is filled by
// Write, then frozen by Flush and only read until it is durable.
type chBlock struct {
	changes     changeColumns
	scores      scoreColumns
	transitions transitionColumns
	handoffs    handoffColumns
	events      eventColumns
	visitors    visitorColumns
	ipMatches   ipMatchColumns
	rejected    rejectedColumns
	merges      mergeColumns
	sent        [chTables]bool // tables of the block inserted already
}

// chTables is the number of tables a block holds.
const chTables = 9

func (b *chBlock) tables() [chTables]chTable {
	return [chTables]chTable{&b.changes, &b.scores, &b.transitions, &b.handoffs, &b.events, &b.visitors, &b.ipMatches, &b.rejected, &b.merges}
}

func (b *chBlock) len() int {
	return b.changes.len() + b.scores.len() + b.transitions.len() + b.handoffs.len() + b.events.len() +
		b.visitors.len() + b.ipMatches.len() + b.rejected.len() + b.merges.len()
}

func (b *chBlock) add(rb *rows.Batch) {
	for i := range rb.Changes {
		b.changes.add(&rb.Changes[i])
	}
	for i := range rb.Scores {
		b.scores.add(&rb.Scores[i])
	}
	for i := range rb.Transitions {
		b.transitions.add(&rb.Transitions[i])
	}
	for i := range rb.Handoffs {
		b.handoffs.add(&rb.Handoffs[i])
	}
	for i := range rb.Events {
		b.events.add(&rb.Events[i])
	}
	for i := range rb.Visitors {
		b.visitors.add(&rb.Visitors[i])
	}
	for i := range rb.IPMatches {
		b.ipMatches.add(&rb.IPMatches[i])
	}
	for i := range rb.Rejected {
		b.rejected.add(&rb.Rejected[i])
	}
	for i := range rb.Merges {
		b.merges.add(&rb.Merges[i])
	}
}

// reset empties the block, keeping its capacity.
func (b *chBlock) reset() {
	for _, t := range b.tables() {
		t.reset()
	}
	b.sent = [chTables]bool{}
}

// chTable is one table's rows in a block.
type chTable interface {
	table() string
	len() int
	// columns lists the columns in INSERT order, each with its data. The
	// data are views of the table's buffers: valid until the next add or
	// reset.
	columns() []chColumn
	reset()
}

type chColumn struct {
	name string
	data proto.ColInput
}

// strColumn is a String column held as the native protocol sends it: each
// value's length as a uvarint, then its bytes, back to back. Unlike
// proto.ColStr (a buffer and a 16-byte position per value) it costs nothing
// per value to encode, and less memory.
type strColumn struct {
	buf  []byte
	rows int
}

// Append appends s as a new row.
func (c *strColumn) Append(s string) {
	c.buf = binary.AppendUvarint(c.buf, uint64(len(s)))
	c.buf = append(c.buf, s...)
	c.rows++
}

// AppendArr appends every value of vs as a row.
func (c *strColumn) AppendArr(vs []string) {
	for _, s := range vs {
		c.Append(s)
	}
}

// Reset empties the column, keeping its capacity.
func (c *strColumn) Reset() {
	c.buf = c.buf[:0]
	c.rows = 0
}

func (c *strColumn) Type() proto.ColumnType       { return proto.ColumnTypeString }
func (c *strColumn) Rows() int                    { return c.rows }
func (c *strColumn) EncodeColumn(b *proto.Buffer) { b.Buf = append(b.Buf, c.buf...) }
func (c *strColumn) WriteColumn(w *proto.Writer)  { w.ChainWrite(c.buf) }
func (c *strColumn) grow(like *strColumn)         { c.buf = slices.Grow(c.buf, len(like.buf)) }

var _ proto.ColInput = (*strColumn)(nil)

// arrayData is what an Array column's values may be held in.
type arrayData[T any] interface {
	proto.ColInput
	AppendArr(vs []T)
	Reset()
}

// arrayColumn is an Array(T) column held the way the native protocol sends
// it: every row's values flat in data (a C, such as strColumn), and
// offsets[i] the end of row i's values.
type arrayColumn[T any, C any, P interface {
	*C
	arrayData[T]
}] struct {
	offsets proto.ColUInt64
	data    C
}

type (
	stringArray  = arrayColumn[string, strColumn, *strColumn]
	float64Array = arrayColumn[float64, proto.ColFloat64, *proto.ColFloat64]
	uint32Array  = arrayColumn[uint32, proto.ColUInt32, *proto.ColUInt32]
)

func (a *arrayColumn[T, C, P]) add(vs []T) {
	d := P(&a.data)
	d.AppendArr(vs)
	a.offsets.Append(uint64(d.Rows()))
}

func (a *arrayColumn[T, C, P]) column() proto.ColInput {
	return &arrayView{offsets: &a.offsets, data: P(&a.data)}
}

func (a *arrayColumn[T, C, P]) reset() {
	a.offsets.Reset()
	P(&a.data).Reset()
}

// arrayView is an Array column to encode: the offsets of its rows (which
// parallel arrays share) and its values.
type arrayView struct {
	offsets *proto.ColUInt64
	data    proto.ColInput
}

// Type returns the column's type, without building its name (three
// allocations) for the element types the sink's arrays hold.
func (a *arrayView) Type() proto.ColumnType {
	switch t := a.data.Type(); t {
	case proto.ColumnTypeString:
		return arrayOfString
	case proto.ColumnTypeFloat64:
		return arrayOfFloat64
	case proto.ColumnTypeUInt32:
		return arrayOfUInt32
	default:
		return proto.ColumnTypeArray.Sub(t)
	}
}

var (
	arrayOfString  = proto.ColumnTypeArray.Sub(proto.ColumnTypeString)
	arrayOfFloat64 = proto.ColumnTypeArray.Sub(proto.ColumnTypeFloat64)
	arrayOfUInt32  = proto.ColumnTypeArray.Sub(proto.ColumnTypeUInt32)
)

func (a *arrayView) Rows() int { return a.offsets.Rows() }

func (a *arrayView) EncodeColumn(b *proto.Buffer) {
	a.offsets.EncodeColumn(b)
	a.data.EncodeColumn(b)
}

func (a *arrayView) WriteColumn(w *proto.Writer) {
	a.offsets.WriteColumn(w)
	a.data.WriteColumn(w)
}

// reserve grows the columns of b to hold as much as like's do: a new block
// takes the size of the one frozen before it at once, rather than through
// a flush interval of appends growing every column step by step.
func (b *chBlock) reserve(like *chBlock) {
	bt, lt := b.tables(), like.tables()
	for i := range bt {
		bc, lc := bt[i].columns(), lt[i].columns()
		for j := range bc {
			growLike(bc[j].data, lc[j].data)
		}
	}
}

// growLike grows column dst, a view of a table's buffer as columns() returns
// it, to hold src's values.
func growLike(dst, src proto.ColInput) {
	switch d := dst.(type) {
	case *strColumn:
		d.grow(src.(*strColumn))
	case *arrayView:
		s := src.(*arrayView)
		growLike(d.offsets, s.offsets)
		growLike(d.data, s.data)
	case *proto.ColUInt64:
		*d = slices.Grow(*d, src.Rows())
	case *proto.ColFloat64:
		*d = slices.Grow(*d, src.Rows())
	case *proto.ColUInt32:
		*d = slices.Grow(*d, src.Rows())
	case *proto.ColUInt8:
		*d = slices.Grow(*d, src.Rows())
	case *proto.ColInt32:
		*d = slices.Grow(*d, src.Rows())
	case *proto.ColInt64:
		*d = slices.Grow(*d, src.Rows())
	case *proto.ColDate:
		*d = slices.Grow(*d, src.Rows())
	case *proto.ColDateTime:
		d.Data = slices.Grow(d.Data, src.Rows())
	}
}

// reasonColumns holds Reasons as four parallel Array columns, which share
// their offsets.
type reasonColumns struct {
	offsets  proto.ColUInt64 // offsets[i]: the flat index after row i's reasons
	rule     strColumn
	category strColumn
	points   proto.ColFloat64
	count    proto.ColUInt32
}

func (r *reasonColumns) add(rs []rows.Reason) {
	for i := range rs {
		x := &rs[i]
		r.rule.Append(x.Rule)
		r.category.Append(x.Category)
		r.points.Append(x.Points)
		r.count.Append(x.Count)
	}
	r.offsets.Append(uint64(r.rule.Rows()))
}

// columns returns the reasons_rule, reasons_category, reasons_points and
// reasons_count columns, named.
func (r *reasonColumns) columns() [4]chColumn {
	return [4]chColumn{
		{"reasons_rule", &arrayView{offsets: &r.offsets, data: &r.rule}},
		{"reasons_category", &arrayView{offsets: &r.offsets, data: &r.category}},
		{"reasons_points", &arrayView{offsets: &r.offsets, data: &r.points}},
		{"reasons_count", &arrayView{offsets: &r.offsets, data: &r.count}},
	}
}

func (r *reasonColumns) reset() {
	r.offsets.Reset()
	r.rule.Reset()
	r.category.Reset()
	r.points.Reset()
	r.count.Reset()
}

// source holds the source_topic, source_partition and source_offset
// columns most tables end with.
type sourceColumns struct {
	topic     strColumn
	partition proto.ColInt32
	offset    proto.ColInt64
}

func (s *sourceColumns) add(src rows.Source) {
	s.topic.Append(src.Topic)
	s.partition.Append(src.Partition)
	s.offset.Append(src.Offset)
}

func (s *sourceColumns) columns() [3]chColumn {
	return [3]chColumn{
		{"source_topic", &s.topic},
		{"source_partition", &s.partition},
		{"source_offset", &s.offset},
	}
}

func (s *sourceColumns) reset() {
	s.topic.Reset()
	s.partition.Reset()
	s.offset.Reset()
}

type changeColumns struct {
	accountID, contactID                       strColumn
	asOf                                       proto.ColDateTime
	score, fit, engagement                     proto.ColFloat64
	grade                                      strColumn
	level                                      proto.ColUInt8
	label, stage, previousLabel, previousStage strColumn
	previousScore                              proto.ColFloat64
	reasons                                    reasonColumns
	rulesVersion                               strColumn
	source                                     sourceColumns
	intent                                     proto.ColFloat64
	persona, cause                             strColumn
	retracted                                  proto.ColUInt8
}

func (c *changeColumns) table() string { return "score_changes" }
func (c *changeColumns) len() int      { return c.accountID.Rows() }

func (c *changeColumns) add(r *rows.ScoreChange) {
	c.accountID.Append(r.AccountID)
	c.contactID.Append(r.ContactID)
	c.asOf.AppendRaw(dateTime(r.AsOf))
	c.score.Append(r.Score)
	c.fit.Append(r.Fit)
	c.engagement.Append(r.Engagement)
	c.grade.Append(r.Grade)
	c.level.Append(r.Level)
	c.label.Append(r.Label)
	c.stage.Append(r.Stage)
	c.previousLabel.Append(r.PreviousLabel)
	c.previousStage.Append(r.PreviousStage)
	c.previousScore.Append(r.PreviousScore)
	c.reasons.add(r.Reasons)
	c.rulesVersion.Append(r.RulesVersion)
	c.source.add(r.Source)
	c.intent.Append(r.Intent)
	c.persona.Append(r.Persona)
	c.cause.Append(r.Cause)
	c.retracted.Append(uint8Flag(r.Retracted))
}

func (c *changeColumns) columns() []chColumn {
	reasons, source := c.reasons.columns(), c.source.columns()
	return []chColumn{
		{"account_id", &c.accountID},
		{"contact_id", &c.contactID},
		{"as_of", &c.asOf},
		{"score", &c.score},
		{"fit", &c.fit},
		{"engagement", &c.engagement},
		{"grade", &c.grade},
		{"level", &c.level},
		{"label", &c.label},
		{"stage", &c.stage},
		{"previous_label", &c.previousLabel},
		{"previous_stage", &c.previousStage},
		{"previous_score", &c.previousScore},
		reasons[0], reasons[1], reasons[2], reasons[3],
		{"rules_version", &c.rulesVersion},
		source[0], source[1], source[2],
		{"intent", &c.intent},
		{"persona", &c.persona},
		{"cause", &c.cause},
		{"retracted", &c.retracted},
	}
}

func (c *changeColumns) reset() {
	c.accountID.Reset()
	c.contactID.Reset()
	c.asOf.Reset()
	c.score.Reset()
	c.fit.Reset()
	c.engagement.Reset()
	c.grade.Reset()
	c.level.Reset()
	c.label.Reset()
	c.stage.Reset()
	c.previousLabel.Reset()
	c.previousStage.Reset()
	c.previousScore.Reset()
	c.reasons.reset()
	c.rulesVersion.Reset()
	c.source.reset()
	c.intent.Reset()
	c.persona.Reset()
	c.cause.Reset()
	c.retracted.Reset()
}

type scoreColumns struct {
	accountID, contactID   strColumn
	score, fit, engagement proto.ColFloat64
	grade                  strColumn
	level                  proto.ColUInt8
	label, stage           strColumn
	reasons                reasonColumns
	rulesVersion           strColumn
	asOf                   proto.ColDateTime
	version                proto.ColUInt64
	intent                 proto.ColFloat64
	persona                strColumn
	bestTimes              stringArray
	tags                   stringArray
}

func (c *scoreColumns) table() string { return "account_scores" }
func (c *scoreColumns) len() int      { return c.accountID.Rows() }

func (c *scoreColumns) add(r *rows.AccountScore) {
	c.accountID.Append(r.AccountID)
	c.contactID.Append(r.ContactID)
	c.score.Append(r.Score)
	c.fit.Append(r.Fit)
	c.engagement.Append(r.Engagement)
	c.grade.Append(r.Grade)
	c.level.Append(r.Level)
	c.label.Append(r.Label)
	c.stage.Append(r.Stage)
	c.reasons.add(r.Reasons)
	c.rulesVersion.Append(r.RulesVersion)
	c.asOf.AppendRaw(dateTime(r.AsOf))
	c.version.Append(r.Version)
	c.intent.Append(r.Intent)
	c.persona.Append(r.Persona)
	c.bestTimes.add(r.BestTimes)
	c.tags.add(r.Tags)
}

func (c *scoreColumns) columns() []chColumn {
	reasons := c.reasons.columns()
	return []chColumn{
		{"account_id", &c.accountID},
		{"contact_id", &c.contactID},
		{"score", &c.score},
		{"fit", &c.fit},
		{"engagement", &c.engagement},
		{"grade", &c.grade},
		{"level", &c.level},
		{"label", &c.label},
		{"stage", &c.stage},
		reasons[0], reasons[1], reasons[2], reasons[3],
		{"rules_version", &c.rulesVersion},
		{"as_of", &c.asOf},
		{"version", &c.version},
		{"intent", &c.intent},
		{"persona", &c.persona},
		{"best_times", c.bestTimes.column()},
		{"tags", c.tags.column()},
	}
}

func (c *scoreColumns) reset() {
	c.accountID.Reset()
	c.contactID.Reset()
	c.score.Reset()
	c.fit.Reset()
	c.engagement.Reset()
	c.grade.Reset()
	c.level.Reset()
	c.label.Reset()
	c.stage.Reset()
	c.reasons.reset()
	c.rulesVersion.Reset()
	c.asOf.Reset()
	c.version.Reset()
	c.intent.Reset()
	c.persona.Reset()
	c.bestTimes.reset()
	c.tags.reset()
}

type transitionColumns struct {
	accountID, contactID                 strColumn
	fromStage, toStage                   strColumn
	at                                   proto.ColDateTime
	source, medium, campaign             strColumn
	lastSource, lastMedium, lastCampaign strColumn
	recordSource                         sourceColumns
	retracted                            proto.ColUInt8
}

func (c *transitionColumns) table() string { return "funnel_transitions" }
func (c *transitionColumns) len() int      { return c.accountID.Rows() }

func (c *transitionColumns) add(r *rows.FunnelTransition) {
	c.accountID.Append(r.AccountID)
	c.contactID.Append(r.ContactID)
	c.fromStage.Append(r.FromStage)
	c.toStage.Append(r.ToStage)
	c.at.AppendRaw(dateTime(r.At))
	c.source.Append(r.Source)
	c.medium.Append(r.Medium)
	c.campaign.Append(r.Campaign)
	c.lastSource.Append(r.LastSource)
	c.lastMedium.Append(r.LastMedium)
	c.lastCampaign.Append(r.LastCampaign)
	c.recordSource.add(r.RecordSource)
	c.retracted.Append(uint8Flag(r.Retracted))
}

func (c *transitionColumns) columns() []chColumn {
	source := c.recordSource.columns()
	return []chColumn{
		{"account_id", &c.accountID},
		{"contact_id", &c.contactID},
		{"from_stage", &c.fromStage},
		{"to_stage", &c.toStage},
		{"at", &c.at},
		{"source", &c.source},
		{"medium", &c.medium},
		{"campaign", &c.campaign},
		{"last_source", &c.lastSource},
		{"last_medium", &c.lastMedium},
		{"last_campaign", &c.lastCampaign},
		source[0], source[1], source[2],
		{"retracted", &c.retracted},
	}
}

func (c *transitionColumns) reset() {
	c.accountID.Reset()
	c.contactID.Reset()
	c.fromStage.Reset()
	c.toStage.Reset()
	c.at.Reset()
	c.source.Reset()
	c.medium.Reset()
	c.campaign.Reset()
	c.lastSource.Reset()
	c.lastMedium.Reset()
	c.lastCampaign.Reset()
	c.recordSource.reset()
	c.retracted.Reset()
}

type handoffColumns struct {
	accountID, contactID           strColumn
	at                             proto.ColDateTime
	score, fit, engagement, intent proto.ColFloat64
	label, stage                   strColumn
	persona, title, recommendation strColumn
	bestTimes                      stringArray
	reasons                        reasonColumns
	rulesVersion                   strColumn
	source                         sourceColumns
	retracted                      proto.ColUInt8
}

func (c *handoffColumns) table() string { return "handoffs" }
func (c *handoffColumns) len() int      { return c.accountID.Rows() }

func (c *handoffColumns) add(r *rows.Handoff) {
	c.accountID.Append(r.AccountID)
	c.contactID.Append(r.ContactID)
	c.at.AppendRaw(dateTime(r.At))
	c.score.Append(r.Score)
	c.fit.Append(r.Fit)
	c.engagement.Append(r.Engagement)
	c.intent.Append(r.Intent)
	c.label.Append(r.Label)
	c.stage.Append(r.Stage)
	c.persona.Append(r.Persona)
	c.title.Append(r.Title)
	c.recommendation.Append(r.Recommendation)
	c.bestTimes.add(r.BestTimes)
	c.reasons.add(r.Reasons)
	c.rulesVersion.Append(r.RulesVersion)
	c.source.add(r.Source)
	c.retracted.Append(uint8Flag(r.Retracted))
}

func (c *handoffColumns) columns() []chColumn {
	reasons, source := c.reasons.columns(), c.source.columns()
	return []chColumn{
		{"account_id", &c.accountID},
		{"contact_id", &c.contactID},
		{"at", &c.at},
		{"score", &c.score},
		{"fit", &c.fit},
		{"engagement", &c.engagement},
		{"intent", &c.intent},
		{"label", &c.label},
		{"stage", &c.stage},
		{"persona", &c.persona},
		{"title", &c.title},
		{"recommendation", &c.recommendation},
		{"best_times", c.bestTimes.column()},
		reasons[0], reasons[1], reasons[2], reasons[3],
		{"rules_version", &c.rulesVersion},
		source[0], source[1], source[2],
		{"retracted", &c.retracted},
	}
}

func (c *handoffColumns) reset() {
	c.accountID.Reset()
	c.contactID.Reset()
	c.at.Reset()
	c.score.Reset()
	c.fit.Reset()
	c.engagement.Reset()
	c.intent.Reset()
	c.label.Reset()
	c.stage.Reset()
	c.persona.Reset()
	c.title.Reset()
	c.recommendation.Reset()
	c.bestTimes.reset()
	c.reasons.reset()
	c.rulesVersion.Reset()
	c.source.reset()
	c.retracted.Reset()
}

// eventColumns holds score_events rows, one per event applied: the largest
// table by far.
type eventColumns struct {
	accountID, contactID strColumn
	at                   proto.ColDateTime
	typ, event, path     strColumn
	rules                stringArray
	points               float64Array
	source               sourceColumns
	retracted            proto.ColUInt8
}

func (c *eventColumns) table() string { return "score_events" }
func (c *eventColumns) len() int      { return c.accountID.Rows() }

func (c *eventColumns) add(r *rows.ScoreEvent) {
	c.accountID.Append(r.AccountID)
	c.contactID.Append(r.ContactID)
	c.at.AppendRaw(dateTime(r.At))
	c.typ.Append(r.Type)
	c.event.Append(r.Event)
	c.path.Append(r.Path)
	c.rules.add(r.Rules)
	c.points.add(r.Points)
	c.source.add(r.Source)
	c.retracted.Append(uint8Flag(r.Retracted))
}

func (c *eventColumns) columns() []chColumn {
	source := c.source.columns()
	return []chColumn{
		{"account_id", &c.accountID},
		{"contact_id", &c.contactID},
		{"at", &c.at},
		{"type", &c.typ},
		{"event", &c.event},
		{"path", &c.path},
		{"rules", c.rules.column()},
		{"points", c.points.column()},
		source[0], source[1], source[2],
		{"retracted", &c.retracted},
	}
}

func (c *eventColumns) reset() {
	c.accountID.Reset()
	c.contactID.Reset()
	c.at.Reset()
	c.typ.Reset()
	c.event.Reset()
	c.path.Reset()
	c.rules.reset()
	c.points.reset()
	c.source.reset()
	c.retracted.Reset()
}
