package event

// DecodeReference exposes the reference decoder to the external tests, which
// compare Decode with it on the generator's records (internal/generate
// imports this package, so those tests cannot live in it).
var DecodeReference = decodeReference

// FastPathAccepts reports whether Decode's single-pass parser accepts data
// with lim, rather than handing it to the reference decoder.
func FastPathAccepts(data []byte, lim Limits) bool {
	var p parser
	return p.parse(data, lim.orDefault())
}
