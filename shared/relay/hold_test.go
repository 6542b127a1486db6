package relay

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rewardrelay/rewardrelay/shared/agentref"
	"github.com/rewardrelay/rewardrelay/shared/dynamo"
	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

// arEventAt is an AgentRef event the platform created at the given time.
func (h *harness) arEventAt(t testing.TB, msgID, eventType string, data any, at time.Time) Message {
	t.Helper()
	d, err := simulator.AgentRefEvent(arSecret, msgID, eventType, data, at)
	if err != nil {
		t.Fatal(err)
	}
	h.seq++
	return Message{ID: "m-" + strconv.Itoa(h.seq), Delivery: webhook.Delivery{Provider: webhook.AgentRef, EventID: msgID, EventType: eventType, ReceivedAt: at, Body: d.Body}}
}

func (h *harness) held(t testing.TB, affiliate string) bool {
	t.Helper()
	held, err := h.store.Held(t.Context(), reward.AgentRef, reward.Affiliate(affiliate))
	if err != nil {
		t.Fatal(err)
	}
	return held
}

func (h *harness) process(t testing.TB, msgs ...Message) Result {
	t.Helper()
	res := h.p.Process(t.Context(), msgs)
	if len(res.Failed) > 0 {
		t.Fatalf("failed %v\n%s", res.Failed, h.logs)
	}
	return res
}

func TestUnblockedBeforeAnEarlierBlockedEndsUnheld(t *testing.T) {
	h := newHarness(t)
	blocked := h.arEventAt(t, "msg_block", "affiliate.blocked", map[string]any{"id": "aff_1", "status": "blocked"}, t0)
	unblocked := h.arEventAt(t, "msg_unblock", "affiliate.unblocked", map[string]any{"id": "aff_1", "status": "approved"}, t0.Add(time.Minute))
	h.process(t, unblocked)
	res := h.process(t, blocked) // a retry of the earlier event, applied later
	if h.held(t, "aff_1") {
		t.Fatal("the affiliate is on hold: the earlier blocked event won over the later unblocked one")
	}
	if res.Counts[CountStale] != 1 {
		t.Errorf("the late blocked event: %+v, want it counted stale", res.Counts)
	}
	// Its approved conversions post.
	h.process(t, h.arEvent(t, "msg_conv", "conversion.created", map[string]any{"id": "c1", "affiliateId": "aff_1", "currency": "usd", "commissionAmount": 700, "status": "approved"}))
	aff := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("aff_1"), Unit: reward.Cash, Currency: "usd"}
	if b := h.balance(t, aff); b != (reward.Deltas{Available: 700}) {
		t.Errorf("balance %+v, want the approval posted", b)
	}
}

func TestAnOldBlockedRedrivenAfterTheIdempotencyTTLDoesNotBlockAgain(t *testing.T) {
	h := newHarness(t)
	blocked := h.arEventAt(t, "msg_block", "affiliate.blocked", map[string]any{"id": "aff_1", "status": "blocked"}, t0)
	h.process(t, blocked)
	h.process(t, h.arEventAt(t, "msg_unblock", "affiliate.unblocked", map[string]any{"id": "aff_1", "status": "approved"}, t0.Add(time.Hour)))
	// The blocked event's record expires (DynamoDB's TTL deletes it); the
	// message is then redriven from the dead-letter queue.
	_, err := h.db.DeleteItem(t.Context(), &dynamodb.DeleteItemInput{TableName: aws.String(h.store.(*dynamo.Store).Table), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "EVENT#agentref#msg_block"}, "sk": &types.AttributeValueMemberS{Value: "EVENT"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	res := h.process(t, blocked)
	if h.held(t, "aff_1") {
		t.Fatal("the redriven blocked event put the affiliate on hold again")
	}
	if res.Counts[CountStale] != 1 {
		t.Errorf("the redriven event: %+v, want it counted stale", res.Counts)
	}
	// A newer event still applies.
	h.process(t, h.arEventAt(t, "msg_flag", "flag.resolved", map[string]any{"id": "flag_1", "affiliateId": "aff_1", "status": "confirmed"}, t0.Add(2*time.Hour)))
	if !h.held(t, "aff_1") {
		t.Error("a confirmed flag after the release did not put the affiliate on hold")
	}
}

func TestTheReconcilerHealsLostHoldWebhooks(t *testing.T) {
	h := newHarness(t)
	platformNow := t0.Add(10 * time.Minute)
	h.sim.Now = func() time.Time { return platformNow }
	blocked := func(id string, at time.Time) Message {
		return h.arEventAt(t, "msg_block_"+id, "affiliate.blocked", map[string]any{"id": id, "status": "blocked"}, at)
	}
	// a1: blocked, its webhook lost. a2: a confirmed flag, its webhook
	// lost. a3: blocked, then unblocked with the webhook lost. a4: blocked,
	// then a confirmed flag, then released on the platform with the webhook
	// lost: the flag keeps it on hold. a5: a confirmed flag, then blocked,
	// then unblocked with the webhook lost: released.
	h.process(t, blocked("a3", t0.Add(-time.Hour)), blocked("a4", t0.Add(-2*time.Hour)), blocked("a5", t0.Add(-2*time.Hour)))
	flagAt := func(d time.Duration) *time.Time { at := t0.Add(d); return &at }
	h.sim.PutAffiliate(simulator.Affiliate{ID: "a1", Status: "blocked"})
	for _, id := range []string{"a2", "a3", "a4", "a5"} {
		h.sim.PutAffiliate(simulator.Affiliate{ID: id, Status: "approved"})
	}
	h.sim.PutFlag(simulator.Flag{ID: "f2", AffiliateID: "a2", Type: "self_referral", Status: "confirmed", ResolvedAt: flagAt(0)})
	h.sim.PutFlag(simulator.Flag{ID: "f4", AffiliateID: "a4", Type: "self_referral", Status: "confirmed", ResolvedAt: flagAt(-time.Hour)})
	h.sim.PutFlag(simulator.Flag{ID: "f5", AffiliateID: "a5", Type: "self_referral", Status: "confirmed", ResolvedAt: flagAt(-3 * time.Hour)})
	h.sim.PutFlag(simulator.Flag{ID: "f6", AffiliateID: "a3", Type: "self_referral", Status: "dismissed", ResolvedAt: flagAt(0)})
	for i, id := range []string{"a1", "a2", "a3", "a4", "a5"} {
		h.sim.PutConversion(simulator.Conversion{ID: "c" + strconv.Itoa(i+1), AffiliateID: id, Currency: "usd", CommissionAmount: 100, Status: "approved"})
	}
	account := func(id string) reward.Account {
		return reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate(id), Unit: reward.Cash, Currency: "usd"}
	}
	rc := h.reconciler(t)
	dropPlatform(rc, reward.FirstPromoter)
	run := rc.Run(t.Context())
	if len(run.Errors) > 0 {
		t.Fatalf("run: %+v", run)
	}
	for id, want := range map[string]bool{"a1": true, "a2": true, "a3": false, "a4": true, "a5": false} {
		if got := h.held(t, id); got != want {
			t.Errorf("%s held %v, want %v", id, got, want)
		}
		b := reward.Deltas{Available: 100}
		if want {
			b = reward.Deltas{Pending: 100} // the approval waits
		}
		if got := h.balance(t, account(id)); got != b {
			t.Errorf("%s: %+v, want %+v", id, got, b)
		}
	}
	// A webhook newer than the platform's listing wins over it.
	h.process(t, h.arEventAt(t, "msg_unblock_a1", "affiliate.unblocked", map[string]any{"id": "a1", "status": "approved"}, platformNow.Add(5*time.Minute)))
	run = rc.Run(t.Context())
	if len(run.Errors) > 0 {
		t.Fatalf("second run: %+v", run)
	}
	if h.held(t, "a1") {
		t.Error("a1 is on hold again: the listing is older than its unblocked event")
	}
	// The approval held meanwhile posts once the hold is released.
	if got := h.balance(t, account("a1")); got != (reward.Deltas{Available: 100}) {
		t.Errorf("a1 after the release: %+v, want the held approval posted", got)
	}
	if again := rc.Run(t.Context()); again.Counts[CountApplied] != 0 {
		t.Errorf("an idle run applied %d changes", again.Counts[CountApplied])
	}
}

// listingPlatform is AgentRef with something happening on the platform
// right after the reconciler's first listing of holds (flags or blocked
// affiliates), before its second.
type listingPlatform struct {
	AgentRefAPI
	between func()
}

func (p *listingPlatform) firstDone() {
	if p.between != nil {
		p.between()
		p.between = nil
	}
}

func (p *listingPlatform) Flags(ctx context.Context, status, cursor string) ([]agentref.Flag, string, error) {
	defer p.firstDone()
	return p.AgentRefAPI.Flags(ctx, status, cursor)
}

func (p *listingPlatform) Affiliates(ctx context.Context, status, cursor string) ([]agentref.Affiliate, string, time.Time, error) {
	defer p.firstDone()
	return p.AgentRefAPI.Affiliates(ctx, status, cursor)
}

// TestAFlagConfirmedWhileTheReconcilerListsHoldsKeepsItsAffiliateHeld: a
// flag confirmed (and its webhook applied) between the reconciler's two
// listings of holds is the affiliate's newest word: no run releases the
// hold, and the approvals of the affiliate wait.
func TestAFlagConfirmedWhileTheReconcilerListsHoldsKeepsItsAffiliateHeld(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		platformNow := t0.Add(10 * time.Minute)
		h.sim.Now = func() time.Time { return platformNow }
		h.sim.PutAffiliate(simulator.Affiliate{ID: "a1", Status: "approved"})
		h.sim.PutConversion(simulator.Conversion{ID: "c1", AffiliateID: "a1", Currency: "usd", CommissionAmount: 100, Status: "approved"})
		rc := h.reconciler(t)
		dropPlatform(rc, reward.FirstPromoter)
		setRecAR(rc, &listingPlatform{AgentRefAPI: arRec(rc).API, between: func() {
			resolved := platformNow.Add(time.Minute)
			h.sim.PutFlag(simulator.Flag{ID: "f1", AffiliateID: "a1", Type: "self_referral", Status: "confirmed", ResolvedAt: &resolved})
			h.process(t, h.arEventAt(t, "msg_flag", "flag.resolved", map[string]any{"id": "f1", "affiliateId": "a1", "status": "confirmed"}, resolved))
			platformNow = platformNow.Add(2 * time.Minute)
		}})
		for i := range 2 {
			if run := rc.Run(t.Context()); len(run.Errors) > 0 {
				t.Fatalf("run %d: %+v", i+1, run)
			}
			if !h.held(t, "a1") {
				t.Fatalf("after run %d a1 is not held: its confirmed flag is its newest word", i+1)
			}
		}
		if b := h.balance(t, a1); b != (reward.Deltas{Pending: 100}) {
			t.Errorf("a1: %+v, want the approval pending", b)
		}
	})
}

// unreadableHolds is AgentRef whose affiliates cannot be listed.
type unreadableHolds struct{ AgentRefAPI }

func (unreadableHolds) Affiliates(context.Context, string, string) ([]agentref.Affiliate, string, time.Time, error) {
	return nil, "", time.Time{}, agentref.ErrUnavailable
}

// TestARunThatCannotReadHoldsPostsNoApproval: the ledger still has a1
// released (the webhook of the flag that holds it again is late), and the
// platform approved a1's conversion meanwhile. A run that cannot read the
// holds posts none of the approvals, which would be judged against holds
// it could not bring up to date; the next run sets the hold and the
// approval waits.
func TestARunThatCannotReadHoldsPostsNoApproval(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		platformNow := t0.Add(10 * time.Minute)
		h.sim.Now = func() time.Time { return platformNow }
		h.process(t,
			h.arEventAt(t, "msg_block", "affiliate.blocked", map[string]any{"id": "a1", "status": "blocked"}, t0),
			h.arEventAt(t, "msg_unblock", "affiliate.unblocked", map[string]any{"id": "a1", "status": "approved"}, t0.Add(time.Minute)),
			h.arEvent(t, "msg_conv", "conversion.created", map[string]any{"id": "c1", "affiliateId": "a1", "currency": "usd", "commissionAmount": 100, "status": "pending"}))
		h.sim.PutAffiliate(simulator.Affiliate{ID: "a1", Status: "approved"})
		flagged := t0.Add(2 * time.Minute)
		h.sim.PutFlag(simulator.Flag{ID: "f1", AffiliateID: "a1", Type: "self_referral", Status: "confirmed", ResolvedAt: &flagged})
		h.sim.PutConversion(simulator.Conversion{ID: "c1", AffiliateID: "a1", Currency: "usd", CommissionAmount: 100, Status: "approved"})
		rc := h.reconciler(t)
		dropPlatform(rc, reward.FirstPromoter)
		working := arRec(rc).API
		setRecAR(rc, unreadableHolds{working})
		if run := rc.Run(t.Context()); len(run.Errors) == 0 {
			t.Errorf("a run that could not read the holds reports no error: %+v", run)
		}
		if b := h.balance(t, a1); b != (reward.Deltas{Pending: 100}) {
			t.Fatalf("a1 after a run that could not read the holds: %+v, want the approval pending", b)
		}
		setRecAR(rc, working)
		if run := rc.Run(t.Context()); len(run.Errors) > 0 {
			t.Fatalf("run: %+v", run)
		}
		if !h.held(t, "a1") {
			t.Error("a1 is not held: its confirmed flag is its newest word")
		}
		if b := h.balance(t, a1); b != (reward.Deltas{Pending: 100}) {
			t.Errorf("a1: %+v, want the approval pending", b)
		}
	})
}

// TestAFlagWithoutItsResolutionIsRefusedNotIgnored: flag.resolved is not
// documented, and its status decides the hold; one without it (queued
// before ingest refused such deliveries) fails with its reason, to be
// dead-lettered and looked at, instead of being acknowledged as a no-op.
func TestAFlagWithoutItsResolutionIsRefusedNotIgnored(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		m := h.arEvent(t, "msg_flag", "flag.resolved", map[string]any{"id": "f1", "affiliateId": "aff_1", "type": "self_referral"})
		res := h.p.Process(t.Context(), []Message{m})
		if len(res.Failed) != 1 || res.Counts[CountIgnored] != 0 {
			t.Fatalf("result %+v: want the message failed, not ignored", res)
		}
		if reason := res.Reasons[m.ID]; !strings.Contains(reason, "data.status") {
			t.Errorf("reason %q names no missing field", reason)
		}
	})
}

// blockedBeforeTheWrite is a store where an affiliate is blocked (by
// another invocation, say) after the processor read its hold and before
// its first posting is written.
type blockedBeforeTheWrite struct {
	reward.Store
	affiliate reward.Recipient
	done      bool
}

func (s *blockedBeforeTheWrite) Apply(ctx context.Context, ev reward.EventRecord, c reward.Change) error {
	if !s.done && c.Delivered && c.After.Account.Recipient == s.affiliate {
		s.done = true
		block := reward.Hold{Provider: reward.AgentRef, Recipient: s.affiliate, Held: true, At: t0.Add(time.Minute)}
		if err := s.Store.SetHold(ctx, reward.EventRecord{Provider: reward.AgentRef, ID: "msg_block", ExpiresAt: t0.Add(time.Hour)}, block); err != nil {
			return err
		}
	}
	return s.Store.Apply(ctx, ev, c)
}

// TestABlockBetweenTheHoldReadAndTheWriteHoldsTheApproval: an approval
// planned as the affiliate's hold was read is not posted when the
// affiliate is blocked before it is written; planned again, it is held.
func TestABlockBetweenTheHoldReadAndTheWriteHoldsTheApproval(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		store := &blockedBeforeTheWrite{Store: h.store, affiliate: reward.Affiliate("aff_1")}
		h.p.Store = store
		h.process(t, h.arEvent(t, "msg_conv", "conversion.created", map[string]any{"id": "c1", "affiliateId": "aff_1", "currency": "usd", "commissionAmount": 700, "status": "approved"}))
		if !store.done {
			t.Fatal("the approval was never about to be posted")
		}
		aff := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("aff_1"), Unit: reward.Cash, Currency: "usd"}
		if b := h.balance(t, aff); b != (reward.Deltas{Pending: 700}) {
			t.Errorf("balance %+v, want 700 held pending: the affiliate was blocked before the posting was written", b)
		}
		c, err := h.store.Commission(t.Context(), reward.AgentRef, "c1")
		if err != nil || !c.HeldApproval {
			t.Errorf("commission %+v %v, want its approval held", c, err)
		}
	})
}
