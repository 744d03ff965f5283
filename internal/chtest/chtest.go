package chtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	chdeploy "github.com/leadscore/leadscore/deploy/clickhouse"
)

// EnvAddr names the environment variable that points tests at an existing
// server (native protocol host:port) instead of a private one.
const EnvAddr = "LEADSCORE_CLICKHOUSE_ADDR"

// EnvServerBinary names the environment variable that overrides the path of
// the clickhouse-server binary (default /usr/sbin/clickhouse-server, then
// clickhouse-server on PATH).
const EnvServerBinary = "LEADSCORE_CLICKHOUSE_SERVER"

// readyTimeout bounds how long Start waits for a new server to answer.
const readyTimeout = 30 * time.Second

// Server is a running ClickHouse server.
type Server struct {
	// Addr is the native protocol address, host:port.
	Addr string
	// HTTPAddr is the HTTP interface address, host:port; empty for an
	// external server given by LEADSCORE_CLICKHOUSE_ADDR.
	HTTPAddr string

	external bool
	bin      string
	dir      string

	mu      sync.Mutex
	proc    *os.Process
	exited  chan struct{} // closed when proc has been waited for
	stopped bool
}

// Start returns the server named by LEADSCORE_CLICKHOUSE_ADDR when that is
// set, and otherwise starts a private one (see StartPrivate).
func Start() (*Server, error) {
	if addr := os.Getenv(EnvAddr); addr != "" {
		return &Server{Addr: addr, external: true}, nil
	}
	return StartPrivate()
}

// StartPrivate starts a new private clickhouse-server whatever the
// environment says: for tests that stop and restart their server (outages),
// which must never do that to a shared one. It waits until the server
// answers, at most 30 s, and otherwise fails with the tail of its logs.
func StartPrivate() (*Server, error) {
	bin, err := serverBinary()
	if err != nil {
		return nil, err
	}
	var errs []error
	// Free ports are picked by binding and releasing them, so another process
	// may take one before the server binds it: try again on fresh ports.
	for range 3 {
		s, err := startPrivate(bin)
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
		if !errors.Is(err, errAddrInUse) {
			break
		}
	}
	return nil, errors.Join(errs...)
}

var errAddrInUse = errors.New("address already in use")

func serverBinary() (string, error) {
	if p := os.Getenv(EnvServerBinary); p != "" {
		return p, nil
	}
	const debian = "/usr/sbin/clickhouse-server"
	if _, err := os.Stat(debian); err == nil {
		return debian, nil
	}
	p, err := exec.LookPath("clickhouse-server")
	if err != nil {
		return "", fmt.Errorf("find clickhouse-server: not at %s nor on PATH (run scripts/clickhouse.sh ensure, or set %s): %w", debian, EnvAddr, err)
	}
	return p, nil
}

func startPrivate(bin string) (*Server, error) {
	dir, err := os.MkdirTemp("", "leadscore-chtest-")
	if err != nil {
		return nil, fmt.Errorf("start clickhouse: %w", err)
	}
	ports, err := freePorts(2)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start clickhouse: %w", err)
	}
	s := &Server{
		Addr:     net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		HTTPAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1])),
		bin:      bin,
		dir:      dir,
	}
	config, users := chdeploy.LocalServerConfig(dir, ports[0], ports[1])
	for _, sub := range []string{"data", "tmp", "log", "user_files", "format_schemas"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("start clickhouse: %w", err)
		}
	}
	if err := errors.Join(
		os.WriteFile(filepath.Join(dir, "config.xml"), config, 0o644),
		os.WriteFile(filepath.Join(dir, "users.xml"), users, 0o644),
	); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start clickhouse: %w", err)
	}
	if err := s.launch(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// launch starts the server process on s's configuration and waits until it
// answers.
func (s *Server) launch() error {
	out, err := os.OpenFile(filepath.Join(s.dir, "log", "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start clickhouse: %w", err)
	}
	defer out.Close()
	cmd := exec.Command(s.bin, "--config-file="+filepath.Join(s.dir, "config.xml"))
	cmd.Dir = s.dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start clickhouse: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // the exit status is in the logs; Stop kills it anyway
		close(exited)
	}()
	s.mu.Lock()
	s.proc, s.exited = cmd.Process, exited
	s.mu.Unlock()

	if err := s.waitReady(exited); err != nil {
		s.kill()
		tail := s.logTail()
		if strings.Contains(tail, "Address already in use") {
			err = fmt.Errorf("%w: %w", err, errAddrInUse)
		}
		return fmt.Errorf("start clickhouse (%s, native %s, logs in %s): %w\n%s", s.bin, s.Addr, s.dir, err, tail)
	}
	return nil
}

// waitReady polls the HTTP interface's /ping until it answers "Ok.".
func (s *Server) waitReady(exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	client := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.HTTPAddr+"/ping", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			var body bytes.Buffer
			_, _ = body.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.HasPrefix(body.String(), "Ok.") {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("server exited during startup")
		case <-ctx.Done():
			return fmt.Errorf("server did not answer within %s", readyTimeout)
		case <-tick.C:
		}
	}
}

// logTail returns the last lines of the server's logs, for errors.
func (s *Server) logTail() string {
	var b strings.Builder
	for _, name := range []string{"stdout.log", "clickhouse-server.err.log", "clickhouse-server.log"} {
		data, err := os.ReadFile(filepath.Join(s.dir, "log", name))
		if err != nil || len(bytes.TrimSpace(data)) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 30 {
			lines = lines[len(lines)-30:]
		}
		fmt.Fprintf(&b, "--- %s (last %d lines)\n%s\n", name, len(lines), strings.Join(lines, "\n"))
	}
	return b.String()
}

// Kill kills a private server's process (SIGKILL, as in a crash) and waits
// for it to exit, keeping its data and ports for Restart. It fails on an
// external server.
func (s *Server) Kill() error {
	if s.external {
		return errors.New("kill clickhouse: refusing to kill an external server")
	}
	s.kill()
	return nil
}

// Restart starts a killed private server again on the same ports and data
// and waits until it answers.
func (s *Server) Restart() error {
	if s.external {
		return errors.New("restart clickhouse: refusing to restart an external server")
	}
	s.mu.Lock()
	running := s.proc != nil
	stopped := s.stopped
	s.mu.Unlock()
	if stopped {
		return errors.New("restart clickhouse: server was stopped")
	}
	if running {
		return errors.New("restart clickhouse: server is running")
	}
	return s.launch()
}

func (s *Server) kill() {
	s.mu.Lock()
	proc, exited := s.proc, s.exited
	s.proc, s.exited = nil, nil
	s.mu.Unlock()
	if proc == nil {
		return
	}
	_ = proc.Signal(syscall.SIGKILL) // only the process this Server started
	<-exited
}

// Stop kills a private server and removes its folder; for an external server
// it does nothing. Stop is idempotent.
func (s *Server) Stop() {
	if s.external {
		return
	}
	s.kill()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopped {
		s.stopped = true
		os.RemoveAll(s.dir)
	}
}

// Options returns clickhouse-go options for the server's native address and
// the given database (empty: the server's default).
func (s *Server) Options(database string) *clickhouse.Options {
	return &clickhouse.Options{
		Addr:        []string{s.Addr},
		Auth:        clickhouse.Auth{Database: database, Username: "default"},
		DialTimeout: 5 * time.Second,
	}
}

// NewDatabase creates a database with a unique name on s and drops it when
// the test ends, so tests sharing a server do not see each other's tables.
func NewDatabase(t testing.TB, s *Server) string {
	t.Helper()
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := "test_" + sanitize(t.Name()) + "_" + hex.EncodeToString(rnd[:])

	conn, err := clickhouse.Open(s.Options(""))
	if err != nil {
		t.Fatalf("new database: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close()
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return name
}

// sanitize keeps a test name's letters, digits and underscores (a database
// name needs no quoting then), shortened to keep names readable.
func sanitize(name string) string {
	b := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
			b = append(b, c)
		default:
			b = append(b, '_')
		}
	}
	if len(b) > 40 {
		b = b[:40]
	}
	return string(b)
}

// freePorts returns n distinct TCP ports that were free on 127.0.0.1 a
// moment ago.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
