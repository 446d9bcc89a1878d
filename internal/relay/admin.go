package relay

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// servers are the admin socket and the metrics endpoint of a running relay.
type servers struct {
	admin   net.Listener
	metrics *http.Server
	path    string
}

func (s *servers) close() {
	if s.admin != nil {
		s.admin.Close()
		if !strings.HasPrefix(s.path, "@") {
			os.Remove(s.path)
		}
	}
	if s.metrics != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s.metrics.Shutdown(ctx)
	}
}

func startServers(ctx context.Context, r *Relay, cfg *config.Config) (*servers, error) {
	s := &servers{path: cfg.Admin}
	if !strings.HasPrefix(cfg.Admin, "@") {
		if err := os.MkdirAll(filepath.Dir(cfg.Admin), 0o755); err != nil {
			return nil, fmt.Errorf("admin socket %s: %w", cfg.Admin, err)
		}
		// A socket left by a relay that died: remove it if nobody answers.
		if c, err := net.Dial("unix", cfg.Admin); err == nil {
			c.Close()
			return nil, fmt.Errorf("admin socket %s: another relay is running there", cfg.Admin)
		}
		os.Remove(cfg.Admin)
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "unix", cfg.Admin)
	if err != nil {
		return nil, fmt.Errorf("admin socket %s: %w", cfg.Admin, err)
	}
	if !strings.HasPrefix(cfg.Admin, "@") {
		os.Chmod(cfg.Admin, 0o660)
	}
	s.admin = l
	go s.serveAdmin(r)
	if cfg.Metrics != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(r.Collector(), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		ml, err := lc.Listen(ctx, "tcp", cfg.Metrics)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("metrics endpoint %s: %w", cfg.Metrics, err)
		}
		s.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go s.metrics.Serve(ml)
	}
	return s, nil
}

func (s *servers) serveAdmin(r *Relay) {
	for {
		c, err := s.admin.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil && line == "" {
				return
			}
			switch strings.TrimSpace(line) {
			case "status":
				json.NewEncoder(c).Encode(r.Status())
			default:
				fmt.Fprintf(c, "{\"error\":%q}\n", "unknown request "+strings.TrimSpace(line))
			}
		}()
	}
}

// QueryStatus asks the relay listening on admin socket path for its status.
func QueryStatus(ctx context.Context, path string) (Status, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return Status{}, fmt.Errorf("connecting to the relay's admin socket %s: %w (is the relay running?)", path, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("status\n")); err != nil {
		return Status{}, fmt.Errorf("asking %s for status: %w", path, err)
	}
	var st Status
	if err := json.NewDecoder(c).Decode(&st); err != nil {
		return Status{}, fmt.Errorf("reading status from %s: %w", path, err)
	}
	if st.Node == "" {
		return Status{}, errors.New("admin socket " + path + " answered without a node name")
	}
	return st, nil
}
