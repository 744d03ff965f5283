package hygiene

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
	"github.com/stretchr/testify/require"
)

// TestParsePhone tests our use of the phone library: normalisation to
// E.164, the default region, the missing-'+' repair. Validity itself is the
// library's.
func TestParsePhone(t *testing.T) {
	ok := func(raw, region, want, wantRegion string) {
		t.Helper()
		p, err := ParsePhone(raw, region)
		require.NoError(t, err, "%q", raw)
		require.Equal(t, want, p.E164, "%q", raw)
		require.Equal(t, wantRegion, p.Region, "%q", raw)
		require.Equal(t, want[len(want)-len(p.National):], p.National)
	}
	// A Chinese mobile in the forms people type it.
	ok("13910567823", "CN", "+8613910567823", "CN")
	ok("139 1056 7823", "CN", "+8613910567823", "CN")
	ok("+86 139-1056-7823", "CN", "+8613910567823", "CN")
	ok("0086 13910567823", "CN", "+8613910567823", "CN")
	ok("＋８６　１３９１０５６７８２３", "CN", "+8613910567823", "CN")
	// The country code without '+': repaired.
	ok("86 13910567823", "CN", "+8613910567823", "CN")
	ok("8613910567823", "CN", "+8613910567823", "CN")
	// A Beijing landline: the trunk 0 goes.
	ok("010-6552 9988", "CN", "+861065529988", "CN")
	// The default region decides national numbers; '+' overrides it.
	ok("(650) 253-0000", "US", "+16502530000", "US")
	ok("030 22608750", "DE", "+493022608750", "DE")
	ok("+49 30 22608750", "CN", "+493022608750", "DE")

	bad := func(raw, region string) {
		t.Helper()
		_, err := ParsePhone(raw, region)
		require.Error(t, err, "%q", raw)
		require.True(t, errors.Is(err, ErrPhone))
	}
	bad("", "CN")
	bad("abc", "CN")
	bad("1391056782", "CN")   // a digit short
	bad("030 22608750", "CN") // a German number read as Chinese
	bad("+86 139105678231", "CN")
}

func TestFakeDigits(t *testing.T) {
	f := func(d string, run int, want string) {
		t.Helper()
		require.Equal(t, want, fakeDigits(d, run), "%q run %d", d, run)
	}
	f("13800000000", 7, fakeRepeated)   // last seven one digit
	f("13888888888", 7, fakeRepeated)   //
	f("13812345678", 7, fakeAscending)  // ...2345678
	f("13898765432", 7, fakeDescending) // ...8765432
	f("13967890123", 7, fakeAscending)  // 9 then 0 continues the run
	f("1234567890", 7, fakeAscending)   // the whole number
	f("0987654321", 7, fakeDescending)  //
	f("11111", 7, fakeRepeated)         // short: judged whole
	f("13910567823", 7, "")
	f("13812345670", 7, "") // 7 then 0 breaks it
	f("1381234567", 8, "")  // last eight 81234567: no
	f("1111", 7, "")        // under five digits: not judged
	f("13800000000", 0, "") // rule off
}

// phoneOracle is ParsePhone with the library's own validity check and
// region lookup (IsValidNumber, GetRegionCodeForNumber, Format), which
// parsePhone computes with one region lookup.
func phoneOracle(raw, region string) (Phone, error) {
	raw = strings.TrimSpace(raw)
	if hasFullwidth(raw) {
		raw = narrowASCII(raw)
	}
	if raw == "" {
		return Phone{}, errPhoneEmpty
	}
	num, err := phonenumbers.Parse(raw, region)
	if err != nil {
		return Phone{}, errPhoneParse
	}
	phone := func(n *phonenumbers.PhoneNumber) Phone {
		e := phonenumbers.Format(n, phonenumbers.E164)
		cc := strconv.Itoa(int(n.GetCountryCode()))
		return Phone{E164: e, Region: phonenumbers.GetRegionCodeForNumber(n), National: strings.TrimPrefix(e, "+"+cc)}
	}
	if phonenumbers.IsValidNumber(num) {
		return phone(num), nil
	}
	invalid := phone(num)
	cc := phonenumbers.GetCountryCodeForRegion(region)
	if raw[0] == '+' || cc == 0 || !strings.HasPrefix(digitsOnly(raw), strconv.Itoa(cc)) {
		return invalid, errPhoneInvalid
	}
	if num, err = phonenumbers.Parse("+"+raw, region); err != nil || !phonenumbers.IsValidNumber(num) {
		return invalid, errPhoneInvalid
	}
	return phone(num), nil
}

// TestParsePhoneOracle compares ParsePhone with phoneOracle, on calling
// codes shared by several regions above all.
func TestParsePhoneOracle(t *testing.T) {
	raws := []string{
		"+1 650 253 0000", "+1 416 555 0199", "+1 604 555 5555", "+1 809 555 1234", "+1 868 555 1234", "+1 000 000 0000",
		"(650) 253-0000", "1 650 253 0000", "+7 912 345 6789", "+7 701 123 4567", "+7 727 123 4567", "8 912 345 67 89",
		"+44 7400 123456", "+44 1481 256789", "+44 1624 123456", "+44 20 7946 0958", "+262 692 12 34 56", "+590 690 00 12 34",
		"+61 2 9876 5432", "+672 3 12345", "+599 9 123 4567", "+47 79 12 34 56", "+358 18 12345", "86 139 1056 7823",
		"13910567823", "030 22608750", "+49 30 22608750", "+800 1234 5678", "+882 1234 5678", "+", "++1", "x", "",
		// The country code without '+' (the repair), in shared calling codes.
		"7 701 123 4567", "7 912 345 6789", "44 1481 256789", "44 1624 123456", "44 7400 123456", "1 868 555 1234",
	}
	for _, d := range distinctPhones(50) {
		raws = append(raws, d)
	}
	for _, raw := range raws {
		for _, region := range []string{"CN", "US", "CA", "RU", "KZ", "GB", "JE", "DE", "FR", "AU"} {
			want, wantErr := phoneOracle(raw, region)
			got, err := ParsePhone(raw, region)
			require.Equal(t, wantErr, err, "%q %s", raw, region)
			require.Equal(t, want, got, "%q %s", raw, region)
		}
	}
}
