package doctor

// Catalog returns every check, in the order the report lists them.
// The checks that use --listen share one listen.
func Catalog(h *Host, t Target) []Check {
	wire := &listener{h: h, t: t}
	return []Check{
		mcastAddrCheck{h, t},
		routeCheck{h, t},
		linkCheck{h, t},
		rpFilterCheck{h, t},
		firewallCheck{h, t},
		broadcastCheck{h, t},
		limitsCheck{h, t, wire},
		snoopingCheck{h, t, wire},
		ttlCheck{h, t},
		environmentCheck{h, t},
		probeCheck{h, t},
	}
}
