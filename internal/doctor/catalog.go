package doctor

// Catalog returns every check, in the order the report lists them.
func Catalog(h *Host, t Target) []Check {
	return []Check{
		mcastAddrCheck{h, t},
		routeCheck{h, t},
		linkCheck{h, t},
		rpFilterCheck{h, t},
		firewallCheck{h, t},
		broadcastCheck{h, t},
		limitsCheck{h, t},
		snoopingCheck{h, t},
		ttlCheck{h, t},
		environmentCheck{h, t},
		probeCheck{h, t},
	}
}
