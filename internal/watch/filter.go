package watch

import "golang.org/x/net/bpf"

// Filter accepts IPv4 packets to 224.0.0.0/4 and IPv6 packets to ff00::/8;
// in a SOCK_DGRAM packet socket the filter sees the packet from its IP
// header. It is the capture's kernel-side filter.
func Filter() ([]bpf.RawInstruction, error) {
	return bpf.Assemble(FilterProgram())
}

// FilterProgram is Filter before assembly, for tests on bpf.VM.
func FilterProgram() []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: 0, Size: 1},
		bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x40, SkipTrue: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x60, SkipTrue: 5},
		bpf.RetConstant{Val: 0},
		// IPv4: destination's first byte is 0xe0-0xef.
		bpf.LoadAbsolute{Off: 16, Size: 1},
		bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0xe0, SkipTrue: 4},
		bpf.RetConstant{Val: 0},
		// IPv6: destination's first byte is 0xff.
		bpf.LoadAbsolute{Off: 24, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0xff, SkipTrue: 1},
		bpf.RetConstant{Val: 0},
		bpf.RetConstant{Val: 0x40000},
	}
}
