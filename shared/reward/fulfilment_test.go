package reward

import (
	"testing"
	"time"
)

func TestPlanKeepsTheOutboxInStep(t *testing.T) {
	requested := at.Add(-time.Hour)
	delivered := func(f Fulfilment) *Commission {
		c := stored(Approved, 500, 0)
		c.Fulfilment, c.FulfilmentError, c.RequestedAt = f, "earlier reason", requested
		return c
	}
	tests := []struct {
		name        string
		cur         *Commission
		in          Intent
		fulfilment  Fulfilment
		requestedAt time.Time
		changed     bool
	}{
		{"a delivery enters the outbox", stored(Pending, 500, 0), intent(TargetApproved, 500), Requested, at, true},
		{"a delivery the platform need not hear of does not", stored(Pending, 500, 0), Intent{Provider: FirstPromoter, CommissionID: "7", Target: TargetApproved, Account: acct, Amount: 500, At: at}, NotRequested, time.Time{}, false},
		{"reversed while requested", delivered(Requested), intent(TargetDenied, 500), Withdrawn, requested, true},
		{"reversed after a failed acknowledgement", delivered(Failed), intent(TargetRefunded, 0), Withdrawn, requested, true},
		{"reversed after the acknowledgement", delivered(Acknowledged), intent(TargetDenied, 500), Acknowledged, requested, false},
		{"reversed after a refusal", delivered(Refused), intent(TargetDenied, 500), Refused, requested, false},
		{"partly refunded: still owed an acknowledgement", delivered(Failed), intent(TargetRefunded, 200), Failed, requested, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Plan(tt.cur, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if c.After.Fulfilment != tt.fulfilment || !c.After.RequestedAt.Equal(tt.requestedAt) || c.FulfilmentChanged != tt.changed {
				t.Errorf("fulfilment %q requested %s changed %v; want %q %s %v", c.After.Fulfilment, c.After.RequestedAt, c.FulfilmentChanged, tt.fulfilment, tt.requestedAt, tt.changed)
			}
			if tt.fulfilment == Withdrawn && c.After.FulfilmentError != "" {
				t.Errorf("a withdrawn delivery keeps the reason %q", c.After.FulfilmentError)
			}
		})
	}
}

func TestFulfilmentHolds(t *testing.T) {
	requested := &Commission{Fulfilment: Requested}
	acked := &Commission{Fulfilment: Acknowledged}
	for _, tt := range []struct {
		name   string
		stored *Commission
		c      Change
		want   bool
	}{
		{"a change that does not write it", acked, Change{Before: requested}, true},
		{"as planned", requested, Change{Before: requested, FulfilmentChanged: true}, true},
		{"moved since", acked, Change{Before: requested, FulfilmentChanged: true}, false},
		{"a new commission", nil, Change{FulfilmentChanged: true}, true},
	} {
		if got := FulfilmentHolds(tt.stored, tt.c); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
