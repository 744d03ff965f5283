package generate

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// account is a company in the generated world.
type account struct {
	domain    string
	name      string
	industry  string
	employees int
	country   string
	techs     []string
	office    [3]byte // the office's /24: most people browse from it
	people    []person

	grouped    bool // its first group call has been sent
	engagement int  // undecayed strong-signal points, drives the CRM
	crm        crmStage
}

type crmStage uint8

const (
	crmNone crmStage = iota
	crmOpen
	crmClosed
)

// person is someone at an account. userID exists from the start (it is the
// CRM and ESP contact id) but web events carry it only once identified.
type person struct {
	anonID     string
	userID     string
	numericID  bool // userID is sent as a JSON number
	identified bool
	name       string
	email      string
	title      string
	phone      string
	wechat     string
	ip         [4]byte
}

var (
	industries = []string{"software", "fintech", "healthcare", "retail", "manufacturing", "education", "media", "logistics"}
	// industryWeights favours the vendor's core markets.
	industryWeights = []float64{0.26, 0.14, 0.11, 0.11, 0.12, 0.08, 0.08, 0.10}

	countries      = []string{"US", "CN", "DE", "GB", "FR", "JP", "IN", "BR"}
	countryWeights = []float64{0.34, 0.16, 0.10, 0.09, 0.07, 0.08, 0.09, 0.07}
	countryTLDs    = map[string][]string{
		"US": {"com", "io", "ai", "co"},
		"CN": {"cn", "com.cn", "com"},
		"DE": {"de", "com", "io"},
		"GB": {"co.uk", "com", "io"},
		"FR": {"fr", "com", "io"},
		"JP": {"jp", "co.jp", "com"},
		"IN": {"in", "co.in", "com", "io"},
		"BR": {"com.br", "com", "io"},
	}
	countryPhone = map[string]string{
		"US": "+1", "CN": "+86", "DE": "+49", "GB": "+44", "FR": "+33", "JP": "+81", "IN": "+91", "BR": "+55",
	}

	technologies    = []string{"salesforce", "hubspot", "marketo", "segment", "snowflake", "zendesk"}
	technologyShare = []float64{0.35, 0.30, 0.15, 0.20, 0.20, 0.25}

	companyWords = []string{
		"northwind", "contoso", "fabrikam", "globex", "initech", "umbrella", "acme", "hooli",
		"vandelay", "tyrell", "cyberdyne", "soylent", "wonka", "oscorp", "aperture", "nakatomi",
		"monarch", "octan", "virtucon", "sterling", "prestige", "bluth", "kruger", "massive",
		"bluebird", "redwood", "ironclad", "brightpath", "clearwater", "summit", "harbor", "lumen",
		"tianyu", "huaxin", "longmen", "jinhua", "bergmann", "sakura", "indigo", "quanta",
	}
	companySuffixes = []string{"Labs", "Systems", "Inc", "Group", "Technologies", "Holdings", "Solutions", "Co"}

	firstNames = []string{
		"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
		"Sarah", "Daniel", "Laura", "Thomas", "Emma", "Lukas", "Sophie", "Pierre", "Camille", "Priya",
		"Arjun", "Ana", "Lucas", "Oliver", "Amelia", "Felix", "Hannah", "Rahul", "Mariana", "Chloe",
	}
	lastNames = []string{
		"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Martin", "Wilson",
		"Muller", "Schmidt", "Dubois", "Bernard", "Sharma", "Patel", "Silva", "Santos", "Taylor", "Clarke",
	}
	cnGiven   = []string{"Wei", "Fang", "Min", "Jing", "Lei", "Yan", "Hao", "Xin", "Jun", "Ting", "Yu", "Qiang"}
	cnFamily  = []string{"Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu"}
	jpGiven   = []string{"Haruto", "Yui", "Sota", "Hina", "Ren", "Aoi", "Kenji", "Yuki"}
	jpFamily  = []string{"Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Nakamura"}
	jobTitles = []string{
		"VP Marketing", "Head of Growth", "Marketing Manager", "Demand Generation Manager", "CTO",
		"Software Engineer", "Data Engineer", "Head of Sales", "Sales Operations Manager", "CEO",
		"Procurement Manager", "Product Manager", "RevOps Lead", "CMO", "IT Director",
	}

	// publicOctets are first octets of ranges that are routed on the public
	// internet: no RFC 1918, loopback, CGNAT, link-local, documentation or
	// multicast addresses.
	publicOctets = []byte{
		23, 31, 34, 37, 45, 52, 62, 66, 78, 81, 85, 91, 94, 101, 103, 104, 110, 112, 113, 114,
		116, 121, 122, 125, 133, 139, 146, 152, 161, 175, 180, 182, 185, 188, 195, 202, 210, 211,
		212, 213, 217, 218, 220, 221, 222,
	}
)

// pick returns an index drawn with the given weights, which sum to about 1.
func pick(r *rand.Rand, weights []float64) int {
	x := r.Float64()
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

func oneOf[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// newWorld builds n accounts. Account i has popularity rank i.
func newWorld(r *rand.Rand, n int) []account {
	accounts := make([]account, n)
	domains := make(map[string]bool, n)
	for i := range accounts {
		a := &accounts[i]
		a.country = countries[pick(r, countryWeights)]
		a.industry = industries[pick(r, industryWeights)]
		word := oneOf(r, companyWords)
		for {
			a.domain = word + "-" + strconv.Itoa(1+r.IntN(999)) + "." + oneOf(r, countryTLDs[a.country])
			if !domains[a.domain] {
				break
			}
			word = oneOf(r, companyWords)
		}
		domains[a.domain] = true
		a.name = strings.ToUpper(word[:1]) + word[1:] + " " + oneOf(r, companySuffixes)
		// Log-normal around 120 people: most prospects are small, a few huge.
		a.employees = int(math.Round(math.Exp(math.Log(120) + 1.6*r.NormFloat64())))
		a.employees = min(max(a.employees, 5), 20000)
		for j, t := range technologies {
			if r.Float64() < technologyShare[j] {
				a.techs = append(a.techs, t)
			}
		}
		a.office = [3]byte{oneOf(r, publicOctets), byte(r.IntN(256)), byte(r.IntN(256))}
		people := 1 + r.IntN(3)
		if a.employees >= 500 {
			people += r.IntN(4)
		}
		a.people = make([]person, min(people, 6))
		for j := range a.people {
			a.people[j] = newPerson(r, a)
		}
	}
	return accounts
}

func newPerson(r *rand.Rand, a *account) person {
	var p person
	p.anonID = uuid(r)
	if r.Float64() < 0.05 {
		p.numericID = true
		p.userID = strconv.Itoa(100000 + r.IntN(9900000))
	} else {
		p.userID = "usr_" + hex(r, 12)
	}
	var first, last string
	switch a.country {
	case "CN":
		first, last = oneOf(r, cnGiven), oneOf(r, cnFamily)
		p.name = last + " " + first
	case "JP":
		first, last = oneOf(r, jpGiven), oneOf(r, jpFamily)
		p.name = last + " " + first
	default:
		first, last = oneOf(r, firstNames), oneOf(r, lastNames)
		p.name = first + " " + last
	}
	local := strings.ToLower(first + "." + last)
	freeMail := 0.12
	if a.country == "CN" {
		freeMail = 0.35 // qq.com and 163.com are common for work in China
	}
	switch {
	case r.Float64() >= freeMail:
		p.email = local + "@" + a.domain
	case a.country != "CN":
		p.email = local + strconv.Itoa(r.IntN(100)) + "@gmail.com"
	case r.Float64() < 0.6:
		p.email = strconv.Itoa(10000000+r.IntN(2000000000)) + "@qq.com"
	default:
		p.email = local + strconv.Itoa(r.IntN(1000)) + "@163.com"
	}
	p.title = oneOf(r, jobTitles)
	p.phone = countryPhone[a.country] + " " + strconv.Itoa(200+r.IntN(800)) + " " + strconv.Itoa(100+r.IntN(900)) + " " + strconv.Itoa(1000+r.IntN(9000))
	if a.country == "CN" && r.Float64() < 0.6 {
		p.wechat = "wxid_" + hex(r, 10)
	}
	if r.Float64() < 0.65 {
		p.ip = [4]byte{a.office[0], a.office[1], a.office[2], byte(1 + r.IntN(254))}
	} else {
		p.ip = [4]byte{oneOf(r, publicOctets), byte(r.IntN(256)), byte(r.IntN(256)), byte(1 + r.IntN(254))}
	}
	return p
}

const hexDigits = "0123456789abcdef"

// hex returns n random lower-case hex digits.
func hex(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = hexDigits[r.IntN(16)]
	}
	return string(b)
}

// uuid returns a random version-4 UUID in the canonical form.
func uuid(r *rand.Rand) string {
	return string(appendUUID(make([]byte, 0, 36), r))
}

func appendUUID(b []byte, r *rand.Rand) []byte {
	hi, lo := r.Uint64(), r.Uint64()
	hi = hi&^(0xf<<12) | 4<<12 // version 4
	lo = lo&^(0x3<<62) | 2<<62 // RFC 4122 variant
	var raw [16]byte
	for i := range 8 {
		raw[i] = byte(hi >> (56 - 8*i))
		raw[8+i] = byte(lo >> (56 - 8*i))
	}
	for i, c := range raw {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return b
}
