package grafana

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/deploy/clickhouse/queries"
)

var update = flag.Bool("update", false, "rewrite the dashboard files from the panel list")

// panelSpec is one panel: the question it answers, the saved query it
// runs and how it shows the rows.
type panelSpec struct {
	title, question string
	query           string
	kind            string // table, bargauge, timeseries, barchart
	w, h            int
	// xField is a bar chart's category column; hide lists columns a chart
	// leaves out; bars are the value columns of a bar gauge.
	xField string
	hide   []string
	bars   string
	units  map[string]string // column: Grafana unit
}

type dashboardSpec struct {
	file, uid, title, description string
	panels                        []panelSpec
}

var specs = []dashboardSpec{
	{
		file: "leadscore-funnel.json", uid: "leadscore-funnel", title: "leadscore: funnel",
		description: "Where the funnel loses accounts, how many leads, MQLs, opportunities and wins each week, and how long accounts sit in each stage. Queries: deploy/clickhouse/queries.",
		panels: []panelSpec{
			{title: "Funnel: accounts first seen in the range, by the stage they reached", question: "At which stage do we lose most accounts?",
				query: queries.FunnelStages, kind: "bargauge", w: 12, h: 9, bars: "reached"},
			{title: "Conversion and drop-off per stage", question: "At which stage do we lose most accounts? dropped: reached the stage and went no further.",
				query: queries.FunnelStages, kind: "table", w: 12, h: 9, hide: []string{"step"}, units: map[string]string{"share_pct": "percent", "conversion_pct": "percent"}},
			{title: "Leads, MQLs, opportunities and wins per week", question: "How many MQLs each week? Accounts counted in the week they first reached the stage.",
				query: queries.FunnelWeekly, kind: "timeseries", w: 24, h: 9},
			{title: "Time in stage (completed stays, hours)", question: "How long do accounts sit in each stage?",
				query: queries.FunnelTimeInStage, kind: "table", w: 24, h: 7, units: map[string]string{"median_hours": "h", "p90_hours": "h", "mean_hours": "h"}},
		},
	},
	{
		file: "leadscore-channels.json", uid: "leadscore-channels", title: "leadscore: channels",
		description: "Which channel brings accounts that convert, and what a lead, an MQL and a win cost per channel. Load spend with `leadscore costs load FILE`. Queries: deploy/clickhouse/queries.",
		panels: []panelSpec{
			{title: "Cost per lead, MQL and win by channel", question: "Which channel returns the most for its spend (say LinkedIn against search ads)?",
				query: queries.ChannelReturn, kind: "barchart", w: 12, h: 10, xField: "channel",
				hide: []string{"source", "medium", "cost", "currency", "leads", "mqls", "wins"}},
			{title: "Spend and return by channel", question: "Which channel returns the most for its spend? Whole months of the range.",
				query: queries.ChannelReturn, kind: "table", w: 12, h: 10, hide: []string{"channel"},
				units: map[string]string{"cost": "none", "cost_per_lead": "none", "cost_per_mql": "none", "cost_per_win": "none"}},
			{title: "Conversion by first-touch channel", question: "Which channel brings accounts that convert? Accounts first seen in the range, and how far they got.",
				query: queries.ChannelFunnel, kind: "table", w: 24, h: 9, units: map[string]string{"lead_to_mql_pct": "percent", "lead_to_win_pct": "percent"}},
			{title: "Leads, MQLs, opportunities and wins per channel per day", question: "Which channel brings leads, day by day?",
				query: queries.ChannelDaily, kind: "timeseries", w: 24, h: 9},
			{title: "Cost per lead, MQL and win by channel and month", question: "What does a lead, an MQL and a win cost per channel, month by month?",
				query: queries.ChannelCosts, kind: "table", w: 24, h: 10},
			{title: "Last touch before the stage", question: "Which channel was the account's latest touch before it became an MQL, an opportunity, a customer?",
				query: queries.ChannelLastTouch, kind: "table", w: 24, h: 8},
		},
	},
	{
		file: "leadscore-scores.json", uid: "leadscore-scores", title: "leadscore: scores",
		description: "Is the score calibrated: do accounts with higher scores convert more? Queries: deploy/clickhouse/queries.",
		panels: []panelSpec{
			{title: "Conversion by peak score band", question: "Is the score calibrated? Each band's share of accounts that became an opportunity and a customer.",
				query: queries.ScoreCalibration, kind: "barchart", w: 12, h: 10, xField: "scores",
				hide: []string{"band", "accounts", "opportunities", "wins", "mean_peak"}},
			{title: "Score bands", question: "Is the score calibrated? Accounts by their highest score before they became an opportunity.",
				query: queries.ScoreCalibration, kind: "table", w: 12, h: 10, units: map[string]string{"opportunity_pct": "percent", "win_pct": "percent"}},
		},
	},
}

type obj = map[string]any

func datasource() obj { return obj{"type": PluginID, "uid": "${datasource}"} }

// build renders a dashboard spec as Grafana's JSON model.
func build(t *testing.T, d dashboardSpec) []byte {
	t.Helper()
	var panels []any
	x, y, rowH := 0, 0, 0
	for i, p := range d.panels {
		q, err := queries.Get(p.query)
		require.NoError(t, err)
		if x+p.w > 24 {
			x, y, rowH = 0, y+rowH, 0
		}
		queryType, format := "table", 1
		if p.kind == "timeseries" {
			queryType, format = "timeSeries", 0
		}
		overrides := []any{}
		for _, col := range sortedKeys(p.units) {
			overrides = append(overrides, obj{
				"matcher":    obj{"id": "byName", "options": col},
				"properties": []any{obj{"id": "unit", "value": p.units[col]}},
			})
		}
		defaults := obj{}
		options := obj{}
		switch p.kind {
		case "table":
			options = obj{"showHeader": true, "cellHeight": "sm", "footer": obj{"show": false, "reducer": []any{"sum"}, "fields": ""}}
		case "bargauge":
			defaults = obj{"displayName": "${__data.fields.stage}", "min": 0, "color": obj{"mode": "continuous-BlPu"}}
			options = obj{"orientation": "horizontal", "displayMode": "gradient", "showUnfilled": true, "valueMode": "color",
				"reduceOptions": obj{"values": true, "calcs": []any{}, "fields": "/^" + p.bars + "$/"}}
		case "timeseries":
			defaults = obj{"custom": obj{"drawStyle": "bars", "fillOpacity": 70, "lineWidth": 1, "barAlignment": 0,
				"stacking": obj{"mode": "none", "group": "A"}}, "min": 0}
			options = obj{"legend": obj{"displayMode": "table", "placement": "right", "showLegend": true, "calcs": []any{"sum"}},
				"tooltip": obj{"mode": "multi", "sort": "desc"}}
		case "barchart":
			defaults = obj{"min": 0, "custom": obj{"fillOpacity": 80, "lineWidth": 1}}
			options = obj{"xField": p.xField, "orientation": "horizontal", "showValue": "auto", "groupWidth": 0.7, "barWidth": 0.9,
				"legend": obj{"displayMode": "list", "placement": "bottom", "showLegend": true}, "tooltip": obj{"mode": "multi", "sort": "none"}}
		default:
			t.Fatalf("panel %q: unknown kind %q", p.title, p.kind)
		}
		var transformations []any
		if len(p.hide) > 0 {
			exclude := obj{}
			for _, h := range p.hide {
				exclude[h] = true
			}
			transformations = append(transformations, obj{"id": "organize", "options": obj{"excludeByName": exclude}})
		}
		panel := obj{
			"id":          i + 1,
			"type":        p.kind,
			"title":       p.title,
			"description": p.question + "\n\nQuery: deploy/clickhouse/queries/" + p.query + ".sql. " + q.Title,
			"gridPos":     obj{"x": x, "y": y, "w": p.w, "h": p.h},
			"datasource":  datasource(),
			"targets": []any{obj{
				"refId":      "A",
				"datasource": datasource(),
				"editorType": "sql",
				"queryType":  queryType,
				"format":     format,
				"rawSql":     q.SQL,
			}},
			"fieldConfig": obj{"defaults": defaults, "overrides": overrides},
			"options":     options,
		}
		if transformations != nil {
			panel["transformations"] = transformations
		}
		panels = append(panels, panel)
		x += p.w
		rowH = max(rowH, p.h)
	}
	var links []any
	links = append(links, obj{"type": "dashboards", "tags": []any{"leadscore"}, "asDropdown": false, "title": "leadscore", "includeVars": true, "keepTime": true})
	model := obj{
		"__requires": []any{
			obj{"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.0.0"},
			obj{"type": "datasource", "id": PluginID, "name": "ClickHouse", "version": "4.0.0"},
		},
		"uid":           d.uid,
		"title":         d.title,
		"description":   d.description,
		"tags":          []any{"leadscore"},
		"editable":      true,
		"schemaVersion": 39,
		"version":       1,
		"timezone":      "utc",
		"time":          obj{"from": "now-90d", "to": "now"},
		"refresh":       "",
		"links":         links,
		"annotations":   obj{"list": []any{}},
		"templating": obj{"list": []any{obj{
			"name": "datasource", "label": "ClickHouse", "type": "datasource", "query": PluginID,
			"current": obj{}, "hide": 0, "refresh": 1, "regex": "", "options": []any{},
		}}},
		"panels": panels,
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	require.NoError(t, enc.Encode(model))
	return b.Bytes()
}

func sortedKeys(m map[string]string) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestDashboardsGenerated: the files are what the panel list makes
// (go test ./deploy/grafana -update rewrites them).
func TestDashboardsGenerated(t *testing.T) {
	for _, d := range specs {
		got := build(t, d)
		if *update {
			require.NoError(t, os.WriteFile(d.file, got, 0o644))
		}
		want, err := os.ReadFile(d.file)
		require.NoError(t, err, "run go test ./deploy/grafana -update")
		require.Equal(t, string(want), string(got), "%s is out of date: run go test ./deploy/grafana -update", d.file)
	}
}
