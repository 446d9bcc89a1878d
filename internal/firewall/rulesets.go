// Package firewall reads this host's nftables and iptables rules and asks
// them what they do to a kind of datagram: parsing (from `nft -j list
// ruleset` and iptables-save text) and evaluation are pure, so that they
// are tested on recorded rulesets; only Live runs the tools. mcast doctor's
// firewall check and mcast recv's explanation of a silent interface use it.
package firewall

// Rulesets are the firewall rules as their tools print them. Empty text
// means the tool is absent or printed nothing.
type Rulesets struct {
	NftJSON      string // `nft -j list ruleset`
	IptablesSave string // `iptables-save` (IPv4)
	Ip6tables    string // `ip6tables-save`
	Errors       []string
}

// Parse parses every ruleset text it has. It returns the chains it could
// read and the first error.
func Parse(rs Rulesets) ([]Chain, error) {
	var chains []Chain
	var first error
	add := func(cs []Chain, err error) {
		chains = append(chains, cs...)
		if err != nil && first == nil {
			first = err
		}
	}
	if rs.NftJSON != "" {
		add(ParseNftJSON([]byte(rs.NftJSON)))
	}
	if rs.IptablesSave != "" {
		add(ParseIptablesSave(rs.IptablesSave, "iptables"))
	}
	if rs.Ip6tables != "" {
		add(ParseIptablesSave(rs.Ip6tables, "ip6tables"))
	}
	return chains, first
}
