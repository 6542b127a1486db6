package agentref

import (
	"errors"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// TestHoldsMakeTheLedgerAgreeWithTheLists: blocked affiliates are held as
// of the listing, confirmed flags as of their resolution, and a stored
// hold the lists no longer show is released unless a flag at least as
// recent keeps it.
func TestHoldsMakeTheLedgerAgreeWithTheLists(t *testing.T) {
	asOf := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	resolved := asOf.Add(-time.Hour)
	blocked := []Affiliate{{ID: "a1", Status: "blocked"}}
	flags := []Flag{{AffiliateID: "a2", Status: "confirmed", CreatedAt: resolved.Add(-time.Hour), ResolvedAt: &resolved}}
	stored := []reward.Hold{
		{Provider: reward.AgentRef, Recipient: reward.Affiliate("a3"), Held: true, At: asOf.Add(-2 * time.Hour)},
		{Provider: reward.AgentRef, Recipient: reward.Affiliate("a2"), Held: true, At: resolved},
		{Provider: reward.AgentRef, Recipient: reward.Affiliate("a4"), Held: false, At: asOf.Add(-2 * time.Hour)},
	}
	got := Holds(blocked, flags, asOf, stored)
	want := []reward.Hold{
		{Provider: reward.AgentRef, Recipient: reward.Affiliate("a1"), Held: true, At: asOf},
		{Provider: reward.AgentRef, Recipient: reward.Affiliate("a2"), Held: true, At: resolved},
		{Provider: reward.AgentRef, Recipient: reward.Affiliate("a3"), Held: false, At: asOf},
	}
	if len(got) != len(want) {
		t.Fatalf("holds %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Recipient != want[i].Recipient || got[i].Held != want[i].Held || !got[i].At.Equal(want[i].At) {
			t.Errorf("hold %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestListedPayoutIntentIsThePlatformsCurrentWord: a failed payout that
// still shows a completion failed after it; an amount that is not whole
// cents is refused, naming the list.
func TestListedPayoutIntentIsThePlatformsCurrentWord(t *testing.T) {
	created := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	completed := created.Add(time.Hour)
	po := Payout{ID: "p1", AffiliateID: "a1", Amount: CentsOf(300), Status: "failed", CreatedAt: created, CompletedAt: &completed}
	in, err := po.Intent("usd", reward.PayoutFailed)
	if err != nil {
		t.Fatal(err)
	}
	if !in.Current || !in.StatusAt.Equal(completed) || in.Amount != 300 || in.Status != reward.PayoutFailed {
		t.Errorf("intent %+v, want the current word, failed after its completion, 300", in)
	}
	po.Amount = "12.5"
	if _, err := po.Intent("usd", reward.PayoutCompleted); !errors.Is(err, ErrAmount) {
		t.Errorf("12.5: %v, want ErrAmount", err)
	}
}
