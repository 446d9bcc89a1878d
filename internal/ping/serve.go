package ping

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// CheckMetricsAddr checks a --metrics address: an IP address and a port
// (127.0.0.1:9464, [::1]:9464), or a port alone after a colon (:9464) for
// every address. Host names are refused, so that the endpoint binds only
// where it is told.
func CheckMetricsAddr(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("invalid metrics address %q: want ADDR:PORT, such as 127.0.0.1:9464", s)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("invalid metrics address %q: port %q is not a number 0..65535", s, port)
	}
	if a, err := netip.ParseAddr(host); host != "" && (err != nil || a.Zone() != "" || a.IsMulticast()) {
		return fmt.Errorf("invalid metrics address %q: %q is not a unicast IP address", s, host)
	}
	return nil
}

// ServeMetrics serves mon's metrics (and the Go runtime's and the
// process's) at http://addr/metrics until stop is called. addr is one
// CheckMetricsAddr accepts.
func ServeMetrics(ctx context.Context, addr string, mon *Monitor) (stop func(), err error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(mon, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics endpoint %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
