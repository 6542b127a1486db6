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

func TestBlockedAffiliatesAndConfirmedFlags(t *testing.T) {
	sim := simulator.New()
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	sim.Now = func() time.Time { return now }
	srv := sim.Start()
	defer srv.Close()
	for i := range 330 {
		status := "approved"
		if i%3 == 0 {
			status = "blocked"
		}
		sim.PutAffiliate(simulator.Affiliate{ID: fmt.Sprintf("aff_%03d", i), ProgramID: "prg_1", Status: status})
	}
	resolved := now.Add(-time.Hour)
	sim.PutFlag(simulator.Flag{ID: "f1", AffiliateID: "aff_001", Type: "self_referral", Status: "confirmed", CreatedAt: now.Add(-2 * time.Hour), ResolvedAt: &resolved})
	sim.PutFlag(simulator.Flag{ID: "f2", AffiliateID: "aff_002", Type: "self_referral", Status: "dismissed", ResolvedAt: &resolved})
	sim.PutFlag(simulator.Flag{ID: "f3", AffiliateID: "aff_004", Type: "manual_review", Status: "confirmed", CreatedAt: now.Add(-3 * time.Hour)})
	c := &Client{BaseURL: simulator.AgentRefURL(srv.URL), APIKey: sim.AgentKey}

	blocked, cursor, pages := 0, "", 0
	for {
		rows, next, at, err := c.Affiliates(t.Context(), "blocked", cursor)
		if err != nil {
			t.Fatal(err)
		}
		if !at.Equal(now) {
			t.Errorf("page answered at %v, want the platform's clock %v", at, now)
		}
		for _, a := range rows {
			if a.Status != "blocked" {
				t.Errorf("affiliate %s is %s", a.ID, a.Status)
			}
		}
		pages++
		blocked += len(rows)
		if next == "" {
			break
		}
		cursor = next
	}
	if blocked != 110 || pages != 2 {
		t.Errorf("%d blocked affiliates in %d pages, want 110 in 2", blocked, pages)
	}
	flags, next, err := c.Flags(t.Context(), "confirmed", "")
	if err != nil || next != "" || len(flags) != 2 {
		t.Fatalf("confirmed flags: %+v %q %v", flags, next, err)
	}
	if flags[0].AffiliateID != "aff_001" || !flags[0].Resolved().Equal(resolved) || !flags[1].Resolved().Equal(now.Add(-3*time.Hour)) {
		t.Errorf("flags %+v: want aff_001 resolved at %v, and aff_004 at its creation", flags, resolved)
	}
}
