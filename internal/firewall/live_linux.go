package firewall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Live runs `nft -j list ruleset` and iptables-legacy-save where present.
// What a tool could not print is in the result's Errors; the error is the
// first of them when no ruleset at all could be read.
func Live(ctx context.Context) (Rulesets, error) {
	var rs Rulesets
	run := func(name string, args ...string) string {
		path, err := exec.LookPath(name)
		if err != nil {
			return ""
		}
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, path, args...)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			rs.Errors = append(rs.Errors, fmt.Sprintf("%s %s: %v %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String())))
			return ""
		}
		return string(out)
	}
	if _, err := exec.LookPath("nft"); err != nil {
		rs.Errors = append(rs.Errors, "nft is not installed (Debian package nftables), so nftables rules were not read")
	}
	rs.NftJSON = run("nft", "-j", "list", "ruleset")
	// iptables-legacy keeps rules nft cannot see; iptables-nft's rules are
	// already in the nft ruleset, so only the legacy tool is asked.
	rs.IptablesSave = run("iptables-legacy-save")
	rs.Ip6tables = run("ip6tables-legacy-save")
	if rs.NftJSON == "" && rs.IptablesSave == "" && len(rs.Errors) > 0 {
		return rs, errors.New(rs.Errors[0])
	}
	return rs, nil
}
