package hygiene

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Phone is a parsed telephone number.
type Phone struct {
	// E164 is the number in E.164 ("+8613812345678"), without extension.
	E164 string
	// Region is the number's ISO 3166 region ("CN"); "" for non-geographic
	// numbers.
	Region string
	// National is the national significant number ("13812345678").
	National string
}

// ErrPhone is the class of every phone parse error.
var ErrPhone = errors.New("invalid phone number")

type phoneError struct{ reason string }

func (e *phoneError) Error() string { return "parse phone: " + e.reason }
func (e *phoneError) Unwrap() error { return ErrPhone }

var (
	errPhoneEmpty   = &phoneError{"empty"}
	errPhoneParse   = &phoneError{"not a phone number"}
	errPhoneInvalid = &phoneError{"not a valid number for its region"}
)

// phoneScratch is what parsing reuses across calls (one per Verdict).
type phoneScratch struct {
	num phonenumbers.PhoneNumber
}

// ParsePhone parses raw with region as the default for numbers without a
// country code and normalises it to E.164. It uses the library's full
// validity check (the number's length and prefix are assigned in its
// region), so 13812345678 is valid in CN and 12345678901 is not.
//
// On an error, E164 and National are still set when the text parsed as a
// number (for reporting), else empty.
//
// One repair: a number written with its country code but without '+' or
// the international prefix ("86 138 1234 5678" with region CN) is read
// with the '+' when it is invalid as a national number and valid with it.
func ParsePhone(raw, region string) (Phone, error) {
	var sc phoneScratch
	return parsePhone(raw, region, &sc)
}

func parsePhone(raw, region string, sc *phoneScratch) (Phone, error) {
	raw = strings.TrimSpace(raw)
	if hasFullwidth(raw) {
		raw = narrowASCII(raw)
	}
	if raw == "" {
		return Phone{}, errPhoneEmpty
	}
	num := &sc.num
	num.Reset()
	if err := phonenumbers.ParseToNumber(raw, region, num); err != nil {
		return Phone{}, errPhoneParse
	}
	// phonenumbers.IsValidNumber is IsValidNumberForRegion in the
	// number's region; finding that region is the costly part for a
	// calling code several regions share (+1, +7, +44), and toPhone needs
	// it too, so it is found once.
	numRegion := phonenumbers.GetRegionCodeForNumber(num)
	if !phonenumbers.IsValidNumberForRegion(num, numRegion) {
		invalid := toPhone(num, numRegion) // for the fake list: fictional ranges are often invalid
		cc := phonenumbers.GetCountryCodeForRegion(region)
		if raw[0] == '+' || cc == 0 || !strings.HasPrefix(digitsOnly(raw), strconv.Itoa(cc)) {
			return invalid, errPhoneInvalid
		}
		num.Reset()
		if err := phonenumbers.ParseToNumber("+"+raw, region, num); err != nil {
			return invalid, errPhoneInvalid
		}
		if numRegion = phonenumbers.GetRegionCodeForNumber(num); !phonenumbers.IsValidNumberForRegion(num, numRegion) {
			return invalid, errPhoneInvalid
		}
	}
	return toPhone(num, numRegion), nil
}

// toPhone formats num, whose region (phonenumbers.GetRegionCodeForNumber)
// is region.
func toPhone(num *phonenumbers.PhoneNumber, region string) Phone {
	nsn := phonenumbers.GetNationalSignificantNumber(num)
	cc := strconv.Itoa(int(num.GetCountryCode()))
	e164 := "+" + cc + nsn
	return Phone{
		E164:     e164,
		Region:   region,
		National: e164[1+len(cc):],
	}
}

// digitsOnly returns the ASCII digits of s.
func digitsOnly(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if '0' <= s[i] && s[i] <= '9' {
			n++
		}
	}
	if n == len(s) {
		return s
	}
	b := make([]byte, 0, n)
	for i := 0; i < len(s); i++ {
		if '0' <= s[i] && s[i] <= '9' {
			b = append(b, s[i])
		}
	}
	return string(b)
}

// phonePattern is a well-known fake number: E.164 digits with 'x' for
// any digit.
type phonePattern string

func (p phonePattern) match(e164 string) bool {
	if len(p) != len(e164) {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] != 'x' && p[i] != e164[i] {
			return false
		}
	}
	return true
}

// parsePhonePattern checks a fake-list entry: '+', then digits or 'x'.
func parsePhonePattern(s string) (phonePattern, error) {
	s = strings.ReplaceAll(s, " ", "")
	if len(s) < 4 || s[0] != '+' || strings.Trim(s[1:], "0123456789x") != "" {
		return "", fmt.Errorf("parse fake number %q: want E.164 with x for any digit", s)
	}
	return phonePattern(s), nil
}

// Reasons a number is fake; fixed strings for Finding.Detail.
const (
	fakeRepeated   = "one repeated digit"
	fakeAscending  = "ascending run"
	fakeDescending = "descending run"
	fakeListed     = "well-known test number"
)

// fakeDigits says why the digits of a number look typed to get past a form,
// or "". run is how many trailing digits must be one repeated digit or one
// ascending or descending run (9 then 0 continues an ascending run); a
// number shorter than run is judged as a whole. The whole number counts
// too when it is one run of at least five digits.
func fakeDigits(d string, run int) string {
	if run <= 0 || len(d) < 5 {
		return ""
	}
	if why := runKind(d); why != "" {
		return why
	}
	if len(d) > run {
		return runKind(d[len(d)-run:])
	}
	return ""
}

// runKind reports whether all of d is one repeated digit or one ascending
// or descending run (mod 10).
func runKind(d string) string {
	same, up, down := true, true, true
	for i := 1; i < len(d); i++ {
		a, b := d[i-1]-'0', d[i]-'0'
		same = same && a == b
		up = up && b == (a+1)%10
		down = down && b == (a+9)%10
	}
	switch {
	case same:
		return fakeRepeated
	case up:
		return fakeAscending
	case down:
		return fakeDescending
	}
	return ""
}
