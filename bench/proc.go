package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// child is a program the harness started (the engine, the baseline or the
// decode-only consumer): its CPU time is read from /proc, its heap and
// allocation counters from its HTTP endpoint.
type child struct {
	name   string
	cmd    *exec.Cmd
	http   string // host:port of /readyz, /metrics, /debug/pprof/
	logf   string
	exited chan struct{}
	err    error
}

// freeAddr returns a 127.0.0.1 address that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startChild runs bin with args, its output in logDir/name.log, and waits
// until its /readyz answers 200.
func startChild(ctx context.Context, name, logDir, bin, httpAddr string, env []string, args ...string) (*child, error) {
	logf := filepath.Join(logDir, name+".log")
	out, err := os.Create(logf)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer out.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the harness
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, http: httpAddr, logf: logf, exited: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, _, _ := c.get(ctx, "/readyz")
		if code == http.StatusOK {
			return c, nil
		}
		select {
		case <-c.exited:
			return nil, fmt.Errorf("start %s: exited before ready (%v); log %s:\n%s", name, c.err, logf, tail(logf))
		case <-ctx.Done():
			c.kill()
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.kill()
			return nil, fmt.Errorf("start %s: not ready within 60 s; log %s:\n%s", name, logf, tail(logf))
		}
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

func (c *child) get(ctx context.Context, path string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.http+path, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// cpu is the child's user and system CPU time so far, from /proc/<pid>/stat.
func (c *child) cpu() (time.Duration, error) {
	return procCPU(c.cmd.Process.Pid)
}

// clockTick is USER_HZ, 100 on every Linux the harness runs on.
const clockTick = 100

func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read cpu time: %w", err)
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("read cpu time: short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	st, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("read cpu time: %w", err)
	}
	return time.Duration(ut+st) * time.Second / clockTick, nil
}

// metric is the value of an unlabelled metric on the child's /metrics page
// (-1 when absent).
func (c *child) metric(ctx context.Context, name string) float64 {
	_, page, err := c.get(ctx, "/metrics")
	if err != nil {
		return -1
	}
	return metricValue(page, name)
}

func metricValue(page, name string) float64 {
	for line := range strings.Lines(page) {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// liveHeap forces a GC in the child and returns its live heap (HeapAlloc),
// from the text heap profile.
func (c *child) liveHeap(ctx context.Context) (float64, error) {
	_, page, err := c.get(ctx, "/debug/pprof/heap?gc=1&debug=1")
	if err != nil {
		return 0, fmt.Errorf("read %s heap: %w", c.name, err)
	}
	for line := range strings.Lines(page) {
		if rest, ok := strings.CutPrefix(line, "# HeapAlloc = "); ok {
			return strconv.ParseFloat(strings.TrimSpace(rest), 64)
		}
	}
	return 0, fmt.Errorf("read %s heap: no HeapAlloc in the profile", c.name)
}

// stop sends SIGTERM and waits for a clean exit, killing the child after
// 30 s.
func (c *child) stop() error {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		c.kill()
		return fmt.Errorf("stop %s: killed after 30 s", c.name)
	}
	if c.err != nil {
		return fmt.Errorf("stop %s: %w; log %s:\n%s", c.name, c.err, c.logf, tail(c.logf))
	}
	return nil
}

func (c *child) kill() {
	_ = c.cmd.Process.Signal(syscall.SIGKILL) // only the process this harness started
	<-c.exited
}
