package igmp

import "golang.org/x/net/bpf"

// QueryFilter is a classic BPF program accepting only what can be an IGMP
// or MLD message: IPv4 multicast with protocol 2 (IGMP), and IPv6 multicast
// whose first extension header is hop-by-hop (MLD always carries the Router
// Alert option there). It keeps a short listen for queriers from copying a
// busy segment's multicast data to user space. Its loads read the IP header
// at offset base: 0 to run it on an IP packet (bpf.VM), sock.NetOff on a
// packet socket.
func QueryFilter(base uint32) []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: base + 0, Size: 1},
		bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x40, SkipTrue: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x60, SkipTrue: 6},
		bpf.RetConstant{Val: 0},
		// IPv4: protocol 2 to 224.0.0.0/4.
		bpf.LoadAbsolute{Off: base + 9, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 2, SkipTrue: 7},
		bpf.LoadAbsolute{Off: base + 16, Size: 1},
		bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0xe0, SkipTrue: 5, SkipFalse: 4},
		// IPv6: next header 0 (hop-by-hop) to ff00::/8.
		bpf.LoadAbsolute{Off: base + 6, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 0, SkipTrue: 2},
		bpf.LoadAbsolute{Off: base + 24, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0xff, SkipTrue: 1},
		bpf.RetConstant{Val: 0},
		bpf.RetConstant{Val: 0x40000},
	}
}
