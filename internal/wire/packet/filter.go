package packet

import "golang.org/x/net/bpf"

// MulticastFilter is a classic BPF program accepting IPv4 packets to
// 224.0.0.0/4 and IPv6 packets to ff00::/8. Its loads read the IP header at
// offset base: 0 to run it on an IP packet (bpf.VM), sock.NetOff on a packet
// socket whatever link header precedes the IP header.
func MulticastFilter(base uint32) []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: base + 0, Size: 1},
		bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x40, SkipTrue: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x60, SkipTrue: 5},
		bpf.RetConstant{Val: 0},
		// IPv4: destination's first byte is 0xe0-0xef.
		bpf.LoadAbsolute{Off: base + 16, Size: 1},
		bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0xe0, SkipTrue: 4},
		bpf.RetConstant{Val: 0},
		// IPv6: destination's first byte is 0xff.
		bpf.LoadAbsolute{Off: base + 24, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0xff, SkipTrue: 1},
		bpf.RetConstant{Val: 0},
		bpf.RetConstant{Val: 0x40000},
	}
}
