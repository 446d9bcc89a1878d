package stats_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mcasttools/mcast/internal/stats"
)

func TestSeq(t *testing.T) {
	tests := []struct {
		name                                   string
		seqs                                   []uint64
		end                                    int64 // -1: no end announced
		recv, lost, dups, reordered, late, exp uint64
	}{
		{"in order", []uint64{0, 1, 2, 3}, -1, 4, 0, 0, 0, 0, 4},
		{"gap", []uint64{0, 1, 4, 5}, -1, 4, 2, 0, 0, 0, 6},
		{"loss at end", []uint64{0, 1, 2}, 10, 3, 7, 0, 0, 0, 10},
		{"end below highest", []uint64{0, 1, 2}, 2, 3, 0, 0, 0, 0, 3},
		{"first lost, end known", []uint64{1, 2, 3}, 5, 3, 2, 0, 0, 0, 5},
		{"duplicates", []uint64{0, 1, 1, 2, 2, 2}, 3, 3, 0, 3, 0, 0, 3},
		{"reordered", []uint64{0, 2, 1, 3}, -1, 4, 0, 0, 1, 0, 4},
		{"reordered then dup", []uint64{0, 2, 1, 1, 3}, -1, 4, 0, 1, 1, 0, 4},
		{"before first", []uint64{5, 6, 4}, -1, 3, 0, 0, 1, 0, 3},
		{"late start", []uint64{100, 101, 103}, -1, 3, 1, 0, 0, 0, 4},
		{"too late", []uint64{0, 1 << 17, 5}, -1, 2, 1<<17 - 1, 0, 0, 1, 1<<17 + 1},
		{"wrap of window", []uint64{0, 1 << 16, 1<<16 + 1, 1 << 17}, -1, 4, 1<<17 + 1 - 4, 0, 0, 0, 1<<17 + 1},
		{"nothing, end known", nil, 5, 0, 5, 0, 0, 0, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s stats.Seq
			for _, n := range tt.seqs {
				s.Add(n)
			}
			if tt.end >= 0 {
				s.End(uint64(tt.end))
			}
			got := []uint64{s.Received(), s.Lost(), s.Duplicates(), s.Reordered(), s.TooLate(), s.Expected()}
			want := []uint64{tt.recv, tt.lost, tt.dups, tt.reordered, tt.late, tt.exp}
			if !slices.Equal(got, want) {
				t.Fatalf("recv,lost,dups,reordered,late,expected = %v, want %v", got, want)
			}
		})
	}
}

func TestSeqKinds(t *testing.T) {
	var s stats.Seq
	seqs := []uint64{0, 3, 1, 1, 2, 4}
	want := []stats.Kind{stats.InOrder, stats.InOrder, stats.Reordered, stats.Duplicate, stats.Reordered, stats.InOrder}
	for i, n := range seqs {
		if got := s.Add(n); got != want[i] {
			t.Fatalf("Add(%d) #%d = %v, want %v", n, i, got, want[i])
		}
	}
}

func TestSeqRandomLoss(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var s stats.Seq
	sent, dropped := uint64(200000), uint64(0)
	for n := range sent {
		if r.IntN(10) == 0 && n != 0 {
			dropped++
			continue
		}
		s.Add(n)
	}
	s.End(sent)
	if s.Lost() != dropped || s.Received() != sent-dropped {
		t.Fatalf("lost %d received %d, want %d %d", s.Lost(), s.Received(), dropped, sent-dropped)
	}
}

func TestHistogramPercentiles(t *testing.T) {
	tests := []struct {
		name   string
		values []int64
		q      float64
		want   int64
	}{
		{"single", []int64{1000}, 0.5, 1000},
		{"small exact", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.5, 5},
		{"small p99", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.99, 10},
		{"uniform p50", seq(1, 100000), 0.5, 50000},
		{"uniform p99", seq(1, 100000), 0.99, 99000},
		{"negative clamps", []int64{-5, -1}, 0.5, 0},
		{"microseconds", []int64{20000, 30000, 40000, 50000, 1000000}, 0.5, 40000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h stats.Histogram
			for _, v := range tt.values {
				h.Add(v)
			}
			got := h.Percentile(tt.q)
			if math.Abs(float64(got-tt.want)) > 0.03*float64(tt.want)+0.5 {
				t.Fatalf("Percentile(%v) = %d, want %d within 3%%", tt.q, got, tt.want)
			}
			if got < h.Min() || got > h.Max() {
				t.Fatalf("percentile %d outside [%d, %d]", got, h.Min(), h.Max())
			}
		})
	}
}

func TestHistogramMinMeanMax(t *testing.T) {
	var h stats.Histogram
	for _, v := range []int64{10, 20, 30, 40} {
		h.Add(v)
	}
	if h.Min() != 10 || h.Max() != 40 || h.Mean() != 25 || h.Count() != 4 {
		t.Fatalf("min %d max %d mean %v count %d", h.Min(), h.Max(), h.Mean(), h.Count())
	}
	var empty stats.Histogram
	if empty.Percentile(0.5) != 0 || empty.Mean() != 0 {
		t.Fatal("empty histogram not zero")
	}
}

func seq(from, to int64) []int64 {
	var out []int64
	for v := from; v <= to; v++ {
		out = append(out, v)
	}
	return out
}

func TestJitter(t *testing.T) {
	tests := []struct {
		name      string
		sent, arr []int64
		want      float64
		tol       float64
	}{
		{"constant delay", []int64{0, 10, 20, 30}, []int64{5, 15, 25, 35}, 0, 0},
		{"one step", []int64{0, 10}, []int64{5, 31}, 16.0 / 16, 1e-9},
		// Alternating transit 0,16,0,16,... converges to 16.
		{"alternating", alt(2000, 16), altArr(2000, 16), 16, 0.01},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var j stats.Jitter
			for i := range tt.sent {
				j.Add(tt.sent[i], tt.arr[i])
			}
			if math.Abs(j.Nanoseconds()-tt.want) > tt.tol {
				t.Fatalf("jitter %v, want %v", j.Nanoseconds(), tt.want)
			}
		})
	}
}

func alt(n int, _ int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i) * 100
	}
	return out
}

func altArr(n int, d int64) []int64 {
	out := alt(n, d)
	for i := range out {
		out[i] += int64(i%2) * d
	}
	return out
}

func TestFlow(t *testing.T) {
	var f stats.Flow
	for i, n := range []uint64{0, 1, 1, 3, 2} {
		f.Add(stats.Sample{Seq: n, SentNs: int64(i) * 1e6, ArrivedNs: int64(i)*1e6 + 50000, Bytes: 100, TTL: 62, SenderTTL: 64})
	}
	f.Seq.End(6)
	if f.Count != 5 || f.Seq.Received() != 4 || f.Seq.Duplicates() != 1 || f.Seq.Reordered() != 1 || f.Seq.Lost() != 2 {
		t.Fatalf("counts: %+v", f.Seq)
	}
	if f.Hops() != 2 {
		t.Fatalf("hops %d, want 2", f.Hops())
	}
	if f.Latency.Min() != 50000 || f.Latency.Max() != 50000 || f.Latency.Count() != 4 {
		t.Fatalf("latency %d..%d n=%d", f.Latency.Min(), f.Latency.Max(), f.Latency.Count())
	}
	pps, bps := f.Rate()
	if math.Abs(pps-1000) > 1e-6 || math.Abs(bps-800000) > 1e-3 {
		t.Fatalf("rate %v pps %v bps", pps, bps)
	}
	if math.Abs(f.LossPercent()-100*2.0/6) > 1e-9 {
		t.Fatalf("loss %v%%", f.LossPercent())
	}
}

func TestHistogramBins(t *testing.T) {
	var h stats.Histogram
	if h.Bins() != nil {
		t.Fatal("empty histogram has bins")
	}
	for _, v := range []int64{5, 5, 1000, 1001, 70000} {
		h.Add(v)
	}
	bins := h.Bins()
	var n uint64
	for i, b := range bins {
		n += b.Count
		if b.Lo > b.Hi || (i > 0 && b.Lo <= bins[i-1].Hi) {
			t.Fatalf("bins out of order: %+v", bins)
		}
	}
	if n != 5 || bins[0].Lo != 5 || bins[0].Count != 2 || bins[len(bins)-1].Hi != 70000 {
		t.Fatalf("bins %+v", bins)
	}
}
