package ipmatch

import (
	"fmt"
	"os"

	"github.com/oschwald/maxminddb-golang/v2"
)

// mmdbNetwork is the part of a MaxMind record this package reads. GeoLite2
// and GeoIP2 ASN databases have the autonomous_system fields, GeoIP2 ISP adds
// isp and organization, GeoIP2 Connection-Type has connection_type, and
// GeoIP2 Enterprise nests them all under traits with user_type.
type mmdbNetwork struct {
	ASN            uint32 `maxminddb:"autonomous_system_number"`
	ASOrg          string `maxminddb:"autonomous_system_organization"`
	ISP            string `maxminddb:"isp"`
	Organization   string `maxminddb:"organization"`
	ConnectionType string `maxminddb:"connection_type"`
	UserType       string `maxminddb:"user_type"`
}

type mmdbRecord struct {
	ASN            uint32      `maxminddb:"autonomous_system_number"`
	ASOrg          string      `maxminddb:"autonomous_system_organization"`
	ISP            string      `maxminddb:"isp"`
	Organization   string      `maxminddb:"organization"`
	ConnectionType string      `maxminddb:"connection_type"`
	Traits         mmdbNetwork `maxminddb:"traits"`
}

// merged prefers top-level fields and falls back to traits.
func (r *mmdbRecord) merged() mmdbNetwork {
	n := mmdbNetwork{r.ASN, r.ASOrg, r.ISP, r.Organization, r.ConnectionType, ""}
	t := r.Traits
	if n.ASN == 0 {
		n.ASN = t.ASN
	}
	for _, f := range [...]struct {
		dst *string
		src string
	}{
		{&n.ASOrg, t.ASOrg}, {&n.ISP, t.ISP}, {&n.Organization, t.Organization},
		{&n.ConnectionType, t.ConnectionType}, {&n.UserType, t.UserType},
	} {
		if *f.dst == "" {
			*f.dst = f.src
		}
	}
	return n
}

// org is the organisation using the network: the organization field (the
// end user in GeoIP2 ISP/Enterprise), else the AS holder, else the ISP.
func (n *mmdbNetwork) org() string {
	switch {
	case n.Organization != "":
		return n.Organization
	case n.ASOrg != "":
		return n.ASOrg
	}
	return n.ISP
}

// netClass is the class MaxMind gives the network itself, ClassUnknown
// when it gives none; corporate is set for networks typed as a business.
func (n *mmdbNetwork) netClass() (cl Class, corporate bool) {
	switch n.UserType {
	case "business", "government", "military":
		return ClassCompany, true
	case "hosting", "content_delivery_network", "consumer_privacy_network", "search_engine_spider":
		return ClassHosting, false
	case "cellular":
		return ClassMobile, false
	case "residential", "cafe", "traveler", "router", "dialup":
		return ClassISP, false
	case "college", "school", "university", "library":
		return ClassEducation, false
	}
	switch n.ConnectionType {
	case "Cellular":
		return ClassMobile, false
	case "Cable/DSL", "Satellite", "Dialup":
		return ClassISP, false
	case "Corporate":
		return ClassUnknown, true
	}
	return ClassUnknown, false
}

// loadMMDB adds every network of a MaxMind DB file. The file is read into
// memory rather than mapped so that a writer replacing it in place cannot
// fault the process; the reader is dropped after the load. Records are
// decoded once per data offset (networks share records).
func (b *builder) loadMMDB(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read mmdb: %w", err)
	}
	r, err := maxminddb.OpenBytes(data)
	if err != nil {
		return fmt.Errorf("open mmdb %s: %w", path, err)
	}
	defer r.Close()
	const none = ^uint32(0)
	byOffset := map[uintptr]uint32{}
	n := 0
	for res := range r.Networks() {
		if err := res.Err(); err != nil {
			return fmt.Errorf("read mmdb %s: %w", path, err)
		}
		ent, ok := byOffset[res.Offset()]
		if !ok {
			var rec mmdbRecord
			if err := res.Decode(&rec); err != nil {
				return fmt.Errorf("decode mmdb %s network %s: %w", path, res.Prefix(), err)
			}
			nw := rec.merged()
			ent = none
			if org := nw.org(); org != "" || nw.ASN != 0 {
				cl, corporate := nw.netClass()
				ent = b.dataEntry(SourceMMDB, nw.ASN, b.intern([]byte(org)), cl, corporate)
			}
			byOffset[res.Offset()] = ent
		}
		if ent == none {
			continue
		}
		start, end := prefixRange(res.Prefix())
		if err := b.addRange(start, end, ent, prioMMDB, false); err != nil {
			return fmt.Errorf("read mmdb %s network %s: %w", path, res.Prefix(), err)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("load %s: no networks with an organisation or ASN", path)
	}
	return nil
}
