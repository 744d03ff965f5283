package ipmatch

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestShippedListsParse(t *testing.T) {
	l, err := shippedLists()
	require.NoError(t, err)
	require.Greater(t, len(l.asn), 100)
	require.Greater(t, len(l.rules), 50)
	require.GreaterOrEqual(t, len(l.domASN)+len(l.domOrg), 300)

	_, err = parseLists([]byte("1,isp\nx,isp\n2,nonsense\n"), []byte("isp telecom*\nbogus word\nisp\n"), []byte("Acme,acme.com\nAcme,Not A Domain\n,x.com\n"))
	for _, want := range []string{
		"data/asn-classes.csv:2", "data/asn-classes.csv:3",
		"data/org-rules.txt:2", "data/org-rules.txt:3",
		"data/domains.csv:2", "data/domains.csv:3",
	} {
		require.ErrorContains(t, err, want)
	}
}

func TestClassifyByName(t *testing.T) {
	c, err := newClassifier(&Config{})
	require.NoError(t, err)
	cases := map[string]Class{
		"Comcast Cable Communications, LLC":        ClassISP,
		"Deutsche Telekom AG":                      ClassISP,
		"British Telecommunications PLC":           ClassISP,
		"Acme Broadband Pty Ltd":                   ClassISP,
		"Telecomunicações de São Paulo":            ClassISP,
		"China Mobile":                             ClassMobile,
		"China Mobile Communications Corporation":  ClassMobile, // mobile rules come before "communications"
		"T-Mobile USA, Inc.":                       ClassMobile,
		"Sierra Wireless":                          ClassMobile,
		"Hetzner Online GmbH":                      ClassHosting,
		"DigitalOcean, LLC":                        ClassHosting,
		"Example Cloud Services":                   ClassHosting,
		"Acme Data Center Inc":                     ClassHosting,
		"Acme Datacenters BV":                      ClassHosting,
		"Massachusetts Institute of Technology":    ClassEducation,
		"Stanford University":                      ClassEducation,
		"Universität Wien":                         ClassEducation,
		"University of Example Telecommunications": ClassEducation, // education first
		"Guitar Center":                            ClassCompany,
		"Apple Inc.":                               ClassCompany,
		"ExxonMobil":                               ClassCompany, // "mobil" is a whole word only
		"Servier Laboratories":                     ClassCompany, // "server*" is not "servier"
		"Hostess Brands":                           ClassCompany, // "host" is a whole word
		"":                                         ClassUnknown,
		" - ":                                      ClassUnknown,
	}
	for name, want := range cases {
		require.Equal(t, want, c.classify(0, name, ClassUnknown), name)
	}
}

func TestClassifyPrecedence(t *testing.T) {
	c, err := newClassifier(&Config{OrgRules: []OrgRule{{ClassCompany, "acme telecom"}}})
	require.NoError(t, err)
	require.Equal(t, ClassCompany, c.classify(15169, "Google LLC Cloud Hosting", ClassUnknown), "listed ASN beats keywords")
	require.Equal(t, ClassHosting, c.classify(396982, "Google LLC", ClassUnknown))
	require.Equal(t, ClassHosting, c.classify(13335, "Cloudflare, Inc.", ClassUnknown))
	require.Equal(t, ClassISP, c.classify(3320, "", ClassUnknown), "a listed ASN needs no name")
	require.Equal(t, ClassUnknown, c.classify(64500, "", ClassUnknown))
	require.Equal(t, ClassMobile, c.classify(15169, "Google LLC", ClassMobile), "the network's own type beats the ASN list")
	require.Equal(t, ClassCompany, c.classify(0, "Acme Telecom", ClassUnknown), "config rules before shipped ones")
	require.Equal(t, ClassISP, c.classify(0, "Other Telecom", ClassUnknown))
}

func TestDomains(t *testing.T) {
	c, err := newClassifier(&Config{Domains: map[string]string{"AS64500": "example.com", "Widgets & Co": "widgets.example"}})
	require.NoError(t, err)
	require.Equal(t, "google.com", c.domain(15169, "whatever"))
	require.Equal(t, "google.com", c.domain(0, "GOOGLE LLC"))
	require.Equal(t, "microsoft.com", c.domain(0, "Microsoft Corporation"))
	require.Equal(t, "amazon.com", c.domain(0, "Amazon.com, Inc."))
	require.Equal(t, "cloudflare.com", c.domain(0, "Cloudflare Inc"))
	require.Equal(t, "example.com", c.domain(64500, "x"))
	require.Equal(t, "widgets.example", c.domain(0, "Widgets & Co., Ltd.")) // legal forms dropped
}

func TestNames(t *testing.T) {
	for in, want := range map[string]string{
		"Amazon.com, Inc.":          "amazoncom",
		`LLC "SPUTNIK"`:             "sputnik",
		"Akamai International B.V.": "akamai international",
		"The Walt Disney Company":   "walt disney",
		"Google LLC":                "google",
		"GOOGLE":                    "google",
		"L'Oreal":                   "loreal",
		"Universität Wien":          "universität wien",
		"Inc.":                      "",
		"":                          "",
	} {
		require.Equal(t, want, normOrg(in), in)
	}
	require.Equal(t, "org:guitar-center", orgAccount("Guitar Center", 20429))
	require.Equal(t, "asn:7", orgAccount("Inc.", 7))
	require.Equal(t, "", orgAccount("", 0))
	require.Equal(t, "acme.com", normAccount(" https://www.Acme.com/pricing "))
	require.Equal(t, "Acme Corp", normAccount(" Acme Corp "))
}
