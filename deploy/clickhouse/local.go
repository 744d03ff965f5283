package clickhouse

import (
	_ "embed"
	"strconv"
	"strings"
)

var (
	//go:embed local/config.xml
	localConfig string
	//go:embed local/users.xml
	localUsers string
)

// LocalServerConfig renders the minimal configuration of a private
// ClickHouse server listening on 127.0.0.1 at tcpPort (native protocol) and
// httpPort, with data, logs and temporary files under dir (an absolute
// path). It returns the contents of dir/config.xml and dir/users.xml: the
// config names the users file by that absolute path. scripts/clickhouse.sh
// renders the same templates (local/*.xml) with sed.
func LocalServerConfig(dir string, tcpPort, httpPort int) (config, users []byte) {
	dir = strings.TrimSuffix(dir, "/")
	r := strings.NewReplacer(
		"@DIR@", dir,
		"@TCP_PORT@", strconv.Itoa(tcpPort),
		"@HTTP_PORT@", strconv.Itoa(httpPort),
	)
	return []byte(r.Replace(localConfig)), []byte(r.Replace(localUsers))
}
