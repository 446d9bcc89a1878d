package ping

import (
	"testing"
	"time"
)

// An answer that arrives after its query was settled as lost is still
// counted, so that the next view reports no loss that did not happen.
func TestLedgerLateAnswer(t *testing.T) {
	var l ledger
	t0 := time.Unix(100, 0)
	for seq := uint32(1); seq <= 3; seq++ {
		l.sentQuery(seq, t0.Add(time.Duration(seq)*time.Second))
	}
	l.answered(1, false)
	l.answered(1, true)
	l.answered(3, false)
	l.settle(t0.Add(10 * time.Second))
	if l.sent != 3 || l.uni != 2 || l.multi != 1 || l.mcFirst != 1 {
		t.Fatalf("settled: sent %d uni %d multi %d first %d", l.sent, l.uni, l.multi, l.mcFirst)
	}
	l.answered(2, false) // late
	l.answered(2, false) // and duplicated: counted once
	l.answered(2, true)
	if l.uni != 3 || l.multi != 2 || l.mcFirst != 1 {
		t.Errorf("after late answers: uni %d multi %d first %d", l.uni, l.multi, l.mcFirst)
	}
	l.answered(9, false) // never sent
	if l.uni != 3 {
		t.Errorf("answer to an unsent query counted")
	}
}
