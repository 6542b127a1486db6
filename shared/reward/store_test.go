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
