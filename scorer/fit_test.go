package scorer

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leadscore/leadscore/internal/rows"
)

func TestFit(t *testing.T) {
	example := exampleRules(t)
	// Points well past 100 and below 0, to see the clamps.
	big := mustParse(t, spec{attrs: `{industry: {points: {software: 80}}, country: {points: {cn: 50}}}`}.yaml())
	negative := mustParse(t, spec{attrs: `{industry: {points: {gambling: -30}}, country: {points: {US: 20}}}`}.yaml())
	// any_of on a text attribute, and "*" in any_of.
	anyText := mustParse(t, spec{attrs: `{industry: {any_of: [Software, FinTech], points: 12}, technologies: {any_of: ["*"], points: 3}}`}.yaml())

	fit := func(name string, r *Rules, f Firmographics, want float64, reasons ...rows.Reason) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			s := State{Firm: f}
			res := evaluate(r, &s)
			require.InDelta(t, want, res.Fit, 1e-12)
			require.Equal(t, r.Grade(want), res.Grade)
			if len(reasons) == 0 {
				reasons = nil
			}
			require.Equal(t, reasons, res.Reasons)
		})
	}
	reason := func(attr string, points float64) rows.Reason {
		return rows.Reason{Rule: attr, Category: "fit", Points: points}
	}

	fit("nothing known", example, Firmographics{}, 0)
	// industry: {software: 30, fintech: 25, "*": 5}
	fit("industry exact", example, Firmographics{Industry: "software"}, 30, reason("industry", 30))
	fit("industry upper case", example, Firmographics{Industry: "SoftWare"}, 30, reason("industry", 30))
	fit("industry other", example, Firmographics{Industry: "FINTECH"}, 25, reason("industry", 25))
	fit("industry star", example, Firmographics{Industry: "Retail"}, 5, reason("industry", 5))
	fit("industry non-ascii star", example, Firmographics{Industry: "Ünternehmen"}, 5, reason("industry", 5))
	fit("industry blank is missing", example, Firmographics{Industry: "  "}, 0)
	fit("industry trimmed", example, Firmographics{Industry: " software\t"}, 30, reason("industry", 30))
	// employees: [{min: 200, max: 5000, points: 30}, {min: 50, max: 199, points: 15}]
	for n, want := range map[int64]float64{49: 0, 50: 15, 120: 15, 199: 15, 200: 30, 1000: 30, 5000: 30, 5001: 0, 0: 0} {
		var reasons []rows.Reason
		if want != 0 {
			reasons = append(reasons, reason("employees", want))
		}
		fit("employees "+strconv.FormatInt(n, 10), example, Firmographics{Employees: n, HasEmployees: true}, want, reasons...)
	}
	fit("employees missing", example, Firmographics{Employees: 300}, 0)
	// country: {CN: 20, US: 20, DE: 15}, no "*"
	fit("country lower case", example, Firmographics{Country: "cn"}, 20, reason("country", 20))
	fit("country mixed case", example, Firmographics{Country: "De"}, 15, reason("country", 15))
	fit("country unlisted", example, Firmographics{Country: "FR"}, 0)
	// technologies: {any_of: [salesforce, hubspot], points: 20}
	fit("technology one of", example, Firmographics{Technologies: []string{"Marketo", "HubSpot"}}, 20, reason("technologies", 20))
	fit("technologies score once", example, Firmographics{Technologies: []string{"salesforce", "HUBSPOT"}}, 20, reason("technologies", 20))
	fit("technology unlisted", example, Firmographics{Technologies: []string{"marketo"}}, 0)
	fit("everything, in file order", example,
		Firmographics{Industry: "Software", Employees: 250, HasEmployees: true, Country: "US", Technologies: []string{"salesforce"}},
		100, reason("industry", 30), reason("employees", 30), reason("country", 20), reason("technologies", 20))

	fit("clamped at 100", big, Firmographics{Industry: "Software", Country: "CN"}, 100, reason("industry", 80), reason("country", 50))
	fit("clamped at 0", negative, Firmographics{Industry: "Gambling", Country: "us"}, 0, reason("industry", -30), reason("country", 20))
	fit("negative rule idle", negative, Firmographics{Industry: "retail", Country: "us"}, 20, reason("country", 20))
	fit("any_of on text", anyText, Firmographics{Industry: "fintech"}, 12, reason("industry", 12))
	fit("any_of on text misses", anyText, Firmographics{Industry: "retail"}, 0)
	fit("any_of star", anyText, Firmographics{Technologies: []string{"", "x"}}, 3, reason("technologies", 3))
	fit("any_of star needs a value", anyText, Firmographics{Technologies: []string{""}}, 0)
}
