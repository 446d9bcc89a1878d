package integration_test

import (
	"encoding/json"
	"net/netip"
	"syscall"
)

var sighup = syscall.SIGHUP

type netipAddr = netip.Addr

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
