package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"
)

// serveHTTP starts /metrics, /healthz and /readyz on cfg.HTTP.Listen and
// returns the function that stops it.
func (e *Engine) serveHTTP() (func(), error) {
	if e.cfg.HTTP.Listen == "" {
		return func() {}, nil
	}
	mux := http.NewServeMux()
	if g, ok := e.reg.(prometheus.Gatherer); ok {
		mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	}
	// Profiles, for operators chasing CPU or memory (go tool pprof).
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if !e.ready.Load() {
			http.Error(w, "not ready: not consuming yet", http.StatusServiceUnavailable)
			return
		}
		if err := e.sinkProblem(); err != nil {
			http.Error(w, "not ready: sink: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	ln, err := net.Listen("tcp", e.cfg.HTTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen http: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("http server", "err", err)
		}
	}()
	e.httpAddr.Store(ln.Addr().String())
	e.log.Info("http listening", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// HTTPAddr is the address the operational endpoint listens on, once Run
// has started it ("" before, or when disabled).
func (e *Engine) HTTPAddr() string {
	a, _ := e.httpAddr.Load().(string)
	return a
}

// kgoLogger adapts slog to franz-go's logger, at warn and above: franz-go's
// info level narrates every rebalance step.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	switch level {
	case kgo.LogLevelError:
		k.l.Error(msg, keyvals...)
	case kgo.LogLevelWarn:
		k.l.Warn(msg, keyvals...)
	default:
		k.l.Debug(msg, keyvals...)
	}
}
