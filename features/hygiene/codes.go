package hygiene

import "fmt"

// Code is a stable reason code. Codes are part of the output contract
// (rows, tags, metrics labels): add new ones, never rename.
type Code string

// The reason codes Check and JobChange produce. The default severity of each
// is in the comment and in DefaultSeverity; config can change it.
const (
	// CodeEmailInvalid: the e-mail does not parse (syntax, domain). Suspicious:
	// the lead may still be reachable by phone; CodeContactMissing rejects a
	// lead with no usable channel at all.
	CodeEmailInvalid Code = "email_invalid"
	// CodeEmailDisposable: a throwaway inbox. Reject: nobody reads a reply
	// and it signals no intent to be contacted.
	CodeEmailDisposable Code = "email_disposable"
	// CodeEmailFreemail: gmail.com, qq.com... Suspicious: consumers and small
	// businesses use them honestly, but the address says nothing about a
	// company.
	CodeEmailFreemail Code = "email_freemail"
	// CodeEmailRole: info@, sales@, noreply@... Suspicious: a shared inbox
	// reaches the company, not a person. Not used as a de-duplication key.
	CodeEmailRole Code = "email_role"
	// CodePhoneInvalid: the number does not parse or is not a valid number
	// for its region. Suspicious, like CodeEmailInvalid.
	CodePhoneInvalid Code = "phone_invalid"
	// CodePhoneFake: one repeated digit, an ascending or descending run, or a
	// well-known test number. Reject: typed to get past a required field.
	CodePhoneFake Code = "phone_fake"
	// CodeContactMissing: no valid e-mail, no valid phone and no WeChat id.
	// Reject: sales cannot reach the lead.
	CodeContactMissing Code = "contact_missing"
	// CodeBlacklistedEmail and the other blacklist codes: the value is on a
	// configured blacklist. Reject: that is what the blacklist is for.
	CodeBlacklistedEmail   Code = "blacklisted_email"
	CodeBlacklistedDomain  Code = "blacklisted_domain"
	CodeBlacklistedPhone   Code = "blacklisted_phone"
	CodeBlacklistedIP      Code = "blacklisted_ip"
	CodeBlacklistedCompany Code = "blacklisted_company"
	// CodeSensitiveWord: a lexicon word in a free-text field. The severity is
	// the lexicon's (config), not this table's.
	CodeSensitiveWord Code = "sensitive_word"
	// CodeJobChanged: a known contact now writes from another company's
	// domain (JobChange). Suspicious: the contact is stale for the old
	// account.
	CodeJobChanged Code = "job_changed"
)

// Codes lists every code, in a stable order.
var Codes = []Code{
	CodeEmailInvalid, CodeEmailDisposable, CodeEmailFreemail, CodeEmailRole,
	CodePhoneInvalid, CodePhoneFake, CodeContactMissing,
	CodeBlacklistedEmail, CodeBlacklistedDomain, CodeBlacklistedPhone,
	CodeBlacklistedIP, CodeBlacklistedCompany, CodeSensitiveWord, CodeJobChanged,
}

// Severity says what a finding does to a lead.
type Severity uint8

// Severities, weakest first.
const (
	// SeverityOff drops the finding (the check is disabled).
	SeverityOff Severity = iota
	// SeveritySuspicious tags the lead; it is still created and assigned.
	SeveritySuspicious
	// SeverityReject keeps the lead out of the CRM (the blacklist filter
	// runs before assignment).
	SeverityReject
)

// String is the config spelling.
func (s Severity) String() string {
	switch s {
	case SeveritySuspicious:
		return "suspicious"
	case SeverityReject:
		return "reject"
	}
	return "off"
}

// MarshalText writes the config spelling (JSON and YAML use it).
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads the config spelling.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	*s = v
	return err
}

// ParseSeverity reads "reject", "suspicious" or "off".
func ParseSeverity(s string) (Severity, error) {
	switch s {
	case "reject":
		return SeverityReject, nil
	case "suspicious":
		return SeveritySuspicious, nil
	case "off":
		return SeverityOff, nil
	}
	return SeverityOff, fmt.Errorf("parse severity: %q is not reject, suspicious or off", s)
}

// DefaultSeverity is each code's severity unless config overrides it. The
// reasons are on the code constants.
func DefaultSeverity(c Code) Severity {
	switch c {
	case CodeEmailInvalid, CodeEmailFreemail, CodeEmailRole, CodePhoneInvalid, CodeJobChanged:
		return SeveritySuspicious
	case CodeEmailDisposable, CodePhoneFake, CodeContactMissing,
		CodeBlacklistedEmail, CodeBlacklistedDomain, CodeBlacklistedPhone,
		CodeBlacklistedIP, CodeBlacklistedCompany, CodeSensitiveWord:
		return SeverityReject
	}
	return SeverityOff
}

// Finding is one reason a lead is rejected or tagged.
type Finding struct {
	Code     Code     `json:"code"`     // what was found
	Severity Severity `json:"severity"` // what it does to the lead
	// Field is where it was found: "email", "phone", "wechat", "name",
	// "title", "company.name", "company.domain", "ip", or a free-text
	// field's name.
	Field string `json:"field"`
	// Value is the offending part: the domain, the normalised number, the
	// matched word, the blacklist entry.
	Value string `json:"value,omitempty"`
	// Detail says why, in a fixed phrase ("ascending run", "lexicon ads").
	Detail string `json:"detail,omitempty"`
}

// String renders the finding for logs.
func (f Finding) String() string {
	s := fmt.Sprintf("%s(%s) %s=%q", f.Code, f.Severity, f.Field, f.Value)
	if f.Detail != "" {
		s += " " + f.Detail
	}
	return s
}
