package firstpromoter

import (
	"errors"
	"testing"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// TestEventTargetFollowsTheTypeThenTheStatus: a typed event says its
// target; commission.updated says it through data.status, else through
// the change it reports.
func TestEventTargetFollowsTheTypeThenTheStatus(t *testing.T) {
	cases := []struct {
		body string
		want reward.Target
	}{
		{`{"event_type":"commission.deleted","data":{"id":1,"status":"approved"}}`, reward.TargetDenied},
		{`{"event_type":"commission.approved","data":{"id":1}}`, reward.TargetApproved},
		{`{"event_type":"commission.updated","data":{"id":1,"status":"denied"}}`, reward.TargetDenied},
		{`{"event_type":"commission.updated","changes":{"status":["pending","approved"]},"data":{"id":1}}`, reward.TargetApproved},
		{`{"event_type":"commission.created","data":{"id":1}}`, reward.TargetPending},
	}
	for _, c := range cases {
		e, err := ParseEvent([]byte(c.body))
		if err != nil {
			t.Fatalf("%s: %v", c.body, err)
		}
		if got := e.Target(); got != c.want {
			t.Errorf("%s: target %v, want %v", c.body, got, c.want)
		}
		if !e.IsCommission() {
			t.Errorf("%s: not a commission event", c.body)
		}
	}
	e, err := ParseEvent([]byte(`{"event_type":"payout.updated","data":{"id":0}}`))
	if err != nil {
		t.Fatal(err)
	}
	if e.IsCommission() {
		t.Error("payout.updated read as a commission event")
	}
	if _, err := e.CommissionID(); !errors.Is(err, reward.ErrInvalid) {
		t.Errorf("commission id 0: %v, want reward.ErrInvalid", err)
	}
}
