package relay

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
		if !strings.HasPrefix(s.path, "@") && isSocket(s.path) {
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
		if err := clearStaleSocket(cfg.Admin); err != nil {
			return nil, err
		}
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

// clearStaleSocket makes way for the admin socket at path: a socket left
// by a relay that died is removed if nobody answers on it; anything else
// there (a regular file, a directory, a link) is never touched.
func clearStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("admin socket %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("admin socket %s: a %s is there, not a socket: left alone (remove it or name another admin path)", path, fileKind(fi.Mode()))
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return fmt.Errorf("admin socket %s: another relay is running there", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("admin socket %s: removing the stale socket: %w", path, err)
	}
	return nil
}

func isSocket(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode().Type() == fs.ModeSocket
}

func fileKind(m fs.FileMode) string {
	switch m.Type() {
	case 0:
		return "regular file"
	case fs.ModeDir:
		return "directory"
	case fs.ModeSymlink:
		return "symbolic link"
	case fs.ModeNamedPipe:
		return "named pipe"
	case fs.ModeDevice, fs.ModeDevice | fs.ModeCharDevice:
		return "device"
	}
	return "file of mode " + m.Type().String()
}

// Admin requests: one line of at most maxAdminRequest bytes, within
// adminDeadline, at most maxAdminConns connections at once. Anything else
// is refused and counted (Status.AdminRefused).
const (
	maxAdminRequest = 4096
	maxAdminConns   = 8
	adminDeadline   = 5 * time.Second
)

// Reasons an admin connection is refused.
const (
	AdminTooLong     = "too-long"    // no newline within maxAdminRequest bytes, or none before the deadline
	AdminCredentials = "credentials" // an abstract socket's peer is neither root nor the relay's user
	AdminBusy        = "busy"        // maxAdminConns connections already being served
)

var adminRefusals = []string{AdminTooLong, AdminCredentials, AdminBusy}

func (s *servers) serveAdmin(r *Relay) {
	abstract := strings.HasPrefix(s.path, "@")
	slots := make(chan struct{}, maxAdminConns)
	for {
		c, err := s.admin.Accept()
		if err != nil {
			return
		}
		select {
		case slots <- struct{}{}:
		default:
			r.stats.adminRefused[AdminBusy].Add(1)
			c.Close()
			continue
		}
		go func() {
			defer func() { c.Close(); <-slots }()
			c.SetDeadline(time.Now().Add(adminDeadline))
			if abstract {
				if err := checkPeerCred(c); err != nil {
					r.stats.adminRefused[AdminCredentials].Add(1)
					adminError(c, err.Error())
					return
				}
			}
			line, err := readRequest(c)
			if err != nil {
				if errors.Is(err, errTooLong) {
					r.stats.adminRefused[AdminTooLong].Add(1)
					adminError(c, err.Error())
				}
				return
			}
			switch line {
			case "status":
				json.NewEncoder(c).Encode(r.Status())
			default:
				adminError(c, "unknown request "+line)
			}
		}()
	}
}

var errTooLong = fmt.Errorf("request refused: longer than %d bytes", maxAdminRequest)

// readRequest reads one request line of at most maxAdminRequest bytes
// (the newline included) from c.
func readRequest(c io.Reader) (string, error) {
	br := bufio.NewReaderSize(io.LimitReader(c, maxAdminRequest), maxAdminRequest)
	line, err := br.ReadString('\n')
	switch {
	case err == nil:
	case errors.Is(err, os.ErrDeadlineExceeded) && line != "":
		return "", errTooLong // still writing at the deadline
	case err == io.EOF && len(line) >= maxAdminRequest:
		return "", errTooLong
	case err == io.EOF && line != "":
		// a last line without a newline: taken as it is
	default:
		return "", err
	}
	return strings.TrimSpace(line), nil
}

func adminError(w io.Writer, msg string) {
	fmt.Fprintf(w, "{\"error\":%q}\n", msg)
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
	var raw json.RawMessage
	if err := json.NewDecoder(c).Decode(&raw); err != nil {
		return Status{}, fmt.Errorf("reading status from %s: %w", path, err)
	}
	var refusal struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(raw, &refusal) == nil && refusal.Error != "" {
		return Status{}, fmt.Errorf("asking %s for status: the relay answered: %s", path, refusal.Error)
	}
	var st Status
	if err := json.Unmarshal(raw, &st); err != nil {
		return Status{}, fmt.Errorf("reading status from %s: %w", path, err)
	}
	if st.Node == "" {
		return Status{}, errors.New("admin socket " + path + " answered without a node name")
	}
	return st, nil
}
