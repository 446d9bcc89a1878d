package relay

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"
)

// ParseIGMP reads /proc/net/igmp and returns, for interface ifname, how many
// times each group is joined (the kernel's user count).
func ParseIGMP(b []byte, ifname string) map[netip.Addr]int {
	out := map[netip.Addr]int{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	in := false
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if line[0] != '\t' && line[0] != ' ' {
			// "Idx Device : Count Querier" header of an interface.
			in = len(f) >= 2 && f[1] == ifname
			continue
		}
		if !in || len(f) < 2 || len(f[0]) != 8 {
			continue
		}
		v, err := strconv.ParseUint(f[0], 16, 32)
		if err != nil {
			continue
		}
		users, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		var a [4]byte
		// The kernel prints the network-order address as a host integer.
		binary.NativeEndian.PutUint32(a[:], uint32(v))
		out[netip.AddrFrom4(a)] += users
	}
	return out
}

// ParseIGMP6 reads /proc/net/igmp6 and returns, for interface ifname, how
// many times each group is joined.
func ParseIGMP6(b []byte, ifname string) map[netip.Addr]int {
	out := map[netip.Addr]int{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[1] != ifname || len(f[2]) != 32 {
			continue
		}
		raw, err := hex.DecodeString(f[2])
		if err != nil {
			continue
		}
		users, err := strconv.Atoi(f[3])
		if err != nil {
			continue
		}
		out[netip.AddrFrom16([16]byte(raw))] += users
	}
	return out
}
