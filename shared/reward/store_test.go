package reward

import "testing"

func TestSamePayoutState(t *testing.T) {
	done := &Payout{ID: "p1", Status: "completed", Attempts: 1, Amount: 500}
	for _, tt := range []struct {
		a, b *Payout
		want bool
	}{
		{nil, nil, true},
		{done, nil, false},
		{nil, done, false},
		{done, &Payout{ID: "p1", Status: "completed", Attempts: 1, Amount: 700}, true}, // the amount is not compared
		{done, &Payout{ID: "p1", Status: "failed", Attempts: 1}, false},
		{done, &Payout{ID: "p1", Status: "completed", Attempts: 2}, false},
		{done, &Payout{ID: "p1", Status: "completed", Attempts: 1, StatusAt: at}, false}, // a newer word was stored
	} {
		if got := SamePayoutState(tt.a, tt.b); got != tt.want {
			t.Errorf("SamePayoutState(%+v, %+v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestEntryIDsNameTheirSubject(t *testing.T) {
	for _, subject := range []string{"commission:41", "commission:41#move#1", "commission:4%231", "payout:p#payout#2", "commission:ünï#%"} {
		id := entryID(AgentRef, subject, KindVoid, 3)
		p, got, ok := EntrySubject(id)
		if !ok || p != AgentRef || got != subject {
			t.Errorf("EntrySubject(%q) = %q, %q, %v; want %q", id, p, got, ok, subject)
		}
	}
	if _, _, ok := EntrySubject("no-separator"); ok {
		t.Error("an id without the separator names a subject")
	}
}
