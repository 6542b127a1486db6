package agentref

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/simulator"
)

func TestConversionsPagesWithCursor(t *testing.T) {
	sim := simulator.New()
	srv := sim.Start()
	defer srv.Close()
	for i := range 230 {
		sim.PutConversion(simulator.Conversion{ID: fmt.Sprintf("c%03d", i), AffiliateID: "a", CommissionAmount: 10, Currency: "usd", Status: "approved"})
	}
	sim.PutConversion(simulator.Conversion{ID: "p1", AffiliateID: "a", CommissionAmount: 10, Status: "pending"})
	c := &Client{BaseURL: simulator.AgentRefURL(srv.URL), APIKey: sim.AgentKey}
	seen, cursor, pages := 0, "", 0
	for {
		rows, next, err := c.Conversions(t.Context(), "approved", cursor)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		seen += len(rows)
		if next == "" {
			break
		}
		cursor = next
	}
	if seen != 230 || pages != 3 {
		t.Errorf("saw %d approved conversions in %d pages, want 230 in 3", seen, pages)
	}
}

func TestErrors(t *testing.T) {
	sim := simulator.New()
	srv := sim.Start()
	defer srv.Close()
	var waited []time.Duration
	c := &Client{BaseURL: simulator.AgentRefURL(srv.URL), APIKey: "wrong", Sleep: func(_ context.Context, d time.Duration) error { waited = append(waited, d); return nil }}
	if _, _, err := c.Payouts(t.Context(), "completed", ""); !errors.Is(err, ErrConfig) {
		t.Errorf("wrong key: %v", err)
	}
	c.APIKey = sim.AgentKey
	sim.InjectFaults(simulator.Fault{Status: 429, RetryAfter: "3"}, simulator.Fault{Status: 503})
	if _, _, err := c.Payouts(t.Context(), "completed", ""); err != nil {
		t.Errorf("after a 429 and a 503: %v", err)
	}
	if len(waited) != 2 || waited[0] != 3*time.Second {
		t.Errorf("waits %v, want Retry-After 3s first", waited)
	}
}

func TestPayoutsCarryTheirTimes(t *testing.T) {
	sim := simulator.New()
	srv := sim.Start()
	defer srv.Close()
	created := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	completed := created.Add(time.Hour)
	sim.PutPayout(simulator.Payout{ID: "p1", AffiliateID: "a", Amount: 300, Status: "completed", CreatedAt: created, CompletedAt: &completed})
	sim.PutPayout(simulator.Payout{ID: "p2", AffiliateID: "a", Amount: 300, Status: "failed", CreatedAt: created})
	c := &Client{BaseURL: simulator.AgentRefURL(srv.URL), APIKey: sim.AgentKey}
	done, _, err := c.Payouts(t.Context(), "completed", "")
	if err != nil || len(done) != 1 || !done[0].CreatedAt.Equal(created) || done[0].CompletedAt == nil || !done[0].CompletedAt.Equal(completed) {
		t.Errorf("completed payouts %+v %v, want p1 created at %s, completed at %s", done, err, created, completed)
	}
	failed, _, err := c.Payouts(t.Context(), "failed", "")
	if err != nil || len(failed) != 1 || failed[0].CompletedAt != nil {
		t.Errorf("failed payouts %+v %v, want p2 without a completion", failed, err)
	}
}
