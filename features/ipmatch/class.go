package ipmatch

import "fmt"

// Class says what kind of network a range is. Only ClassCompany makes an
// account (CONTRACT section 1: ISP, mobile and hosting ranges do not).
type Class uint8

// Classes of networks. The zero value is ClassUnknown.
const (
	ClassUnknown   Class = iota // no organisation name and no listed ASN
	ClassCompany                // an organisation's own network: makes an account
	ClassISP                    // residential or business access, transit
	ClassMobile                 // mobile carriers
	ClassHosting                // hosting, cloud, CDN, VPN and proxy egress
	ClassEducation              // universities, schools, research networks
	numClasses
)

var classNames = [numClasses]string{"unknown", "company", "isp", "mobile", "hosting", "education"}

// String names the class as in data files, configs and metric labels.
func (c Class) String() string {
	if c < numClasses {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// ParseClass returns the class a name denotes. "unknown" is not accepted:
// it is never something a list assigns.
func ParseClass(s string) (Class, error) {
	for c := ClassCompany; c < numClasses; c++ {
		if classNames[c] == s {
			return c, nil
		}
	}
	return ClassUnknown, fmt.Errorf("parse class %q: want company, isp, mobile, hosting or education", s)
}

// MarshalText writes the class name.
func (c Class) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText reads a class name (YAML and JSON configs).
func (c *Class) UnmarshalText(b []byte) error {
	v, err := ParseClass(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Source says which data answered a lookup.
type Source uint8

// Sources, in increasing precedence.
const (
	SourceCSV      Source = iota // a CSV range file
	SourceMMDB                   // a MaxMind DB file
	SourceOverride               // the user overrides file
	numSources
)

var sourceNames = [numSources]string{"csv", "mmdb", "override"}

// String names the source as in metric labels.
func (s Source) String() string {
	if s < numSources {
		return sourceNames[s]
	}
	return fmt.Sprintf("source(%d)", uint8(s))
}

// Confidence of a match's attribution, by what it rests on. An override is
// the user's word; a MaxMind network typed corporate/business is a measured
// fact about that network; a MaxMind organisation otherwise is good; an
// ASN-holder name from a CSV is the weakest (the AS holder is often not the
// organisation using the addresses).
const (
	ConfidenceOverride      = 1.0
	ConfidenceMMDBCorporate = 0.9
	ConfidenceMMDB          = 0.7
	ConfidenceCSV           = 0.5
)

// Match is what an address resolved to.
type Match struct {
	// Account is the account id the address makes: non-empty exactly when
	// Class is ClassCompany (or the address is in an override).
	Account string
	// Domain is the organisation's known domain, empty when unknown. It is
	// set for every class (1.1.1.1 has cloudflare.com) for display.
	Domain string
	// Org is the organisation name as the data spells it; for an override it
	// is the underlying data's name, when there is one.
	Org string
	// ASN is the autonomous system number, 0 when unknown.
	ASN uint32
	// Class is what kind of network this is.
	Class Class
	// Confidence in 0..1 that Org is who uses the address (see the
	// Confidence constants).
	Confidence float64
	// Source is the data that answered.
	Source Source
}
