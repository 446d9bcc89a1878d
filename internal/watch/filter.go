package watch

import (
	"github.com/mcasttools/mcast/internal/sock"
	"golang.org/x/net/bpf"
)

// Filter accepts IPv4 packets to 224.0.0.0/4 and IPv6 packets to ff00::/8.
// It is the capture's kernel-side filter: FilterProgram with its loads
// taken relative to the network header.
func Filter() ([]bpf.RawInstruction, error) {
	return bpf.Assemble(filterProgram(sock.NetOff))
}

// FilterProgram is Filter before assembly, with offsets from the start of
// the IP header, for tests on bpf.VM.
func FilterProgram() []bpf.Instruction { return filterProgram(0) }

func filterProgram(base uint32) []bpf.Instruction {
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

// QueryFilter accepts only what can be an IGMP or MLD message: IPv4
// multicast with protocol 2 (IGMP), and IPv6 multicast whose first
// extension header is hop-by-hop (MLD always carries the Router Alert
// option there). It keeps a short listen for queriers (mcast doctor
// --listen) from copying a busy segment's multicast data to user space.
func QueryFilter() ([]bpf.RawInstruction, error) {
	return bpf.Assemble(queryFilterProgram(sock.NetOff))
}

// QueryFilterProgram is QueryFilter before assembly, with offsets from the
// start of the IP header, for tests on bpf.VM.
func QueryFilterProgram() []bpf.Instruction { return queryFilterProgram(0) }

func queryFilterProgram(base uint32) []bpf.Instruction {
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
