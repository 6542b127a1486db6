package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rewardrelay/rewardrelay/shared/firstpromoter"
	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

func TestFirstPromoterLifecycle(t *testing.T) {
	h := newHarness(t)
	h.fpCommission(1, "pending")
	res := h.p.Process(t.Context(), []Message{h.fpEvent("e1", "commission.created", 1, "")})
	if len(res.Failed) != 0 || res.Counts[CountApplied] != 1 {
		t.Fatalf("created: %+v", res)
	}
	if b := h.balance(t, promoter7); b != (reward.Deltas{Pending: 500}) {
		t.Errorf("after created: %+v", b)
	}
	h.sim.SetStatus(1, "approved")
	res = h.p.Process(t.Context(), []Message{h.fpEvent("e2", "commission.updated", 1, "pending")})
	if len(res.Failed) != 0 || res.Counts[CountDelivered] != 1 || res.Counts[CountAcknowledged] != 1 {
		t.Fatalf("approved: %+v", res)
	}
	if b := h.balance(t, promoter7); b != (reward.Deltas{Available: 500, Fulfilled: 500}) {
		t.Errorf("after approval: %+v", b)
	}
	if c, _ := h.sim.Commission(1); !c.Fulfilled {
		t.Error("the platform was not told")
	}
	// The same approval under FirstPromoter's other event name.
	res = h.p.Process(t.Context(), []Message{h.fpEvent("e3", "commission.approved", 1, "")})
	if res.Counts[CountDuplicate] != 1 || res.Counts[CountDelivered] != 0 {
		t.Errorf("second approval event: %+v", res.Counts)
	}
	// Denied after delivery: reversed, never deleted.
	h.sim.SetStatus(1, "denied")
	res = h.p.Process(t.Context(), []Message{h.fpEvent("e4", "commission.updated", 1, "approved")})
	if res.Counts[CountApplied] != 1 {
		t.Errorf("denial: %+v", res.Counts)
	}
	if b := h.balance(t, promoter7); b != (reward.Deltas{Reversed: 500, Fulfilled: 500}) {
		t.Errorf("after denial: %+v", b)
	}
	if n := h.sim.CallCount("POST /firstpromoter/api/v2/company/commissions/mark_fulfilled"); n != 1 {
		t.Errorf("mark_fulfilled called %d times, want 1", n)
	}
}

func TestBatchOfDuplicatesReorderingAndSharedBalance(t *testing.T) {
	h := newHarness(t)
	for id := int64(1); id <= 3; id++ {
		h.fpCommission(id, "approved")
	}
	batch := []Message{
		h.fpEvent("a1", "commission.updated", 1, "pending"), // approved before created
		h.fpEvent("c1", "commission.created", 1, ""),        // created, late
		h.fpEvent("a1", "commission.updated", 1, "pending"), // exact duplicate
		h.fpEvent("a2", "commission.approved", 2, ""),
		h.fpEvent("a2b", "commission.updated", 2, "pending"), // same transition, other id
		h.fpEvent("a3", "commission.updated", 3, "pending"),
	}
	res := h.p.Process(t.Context(), batch)
	if len(res.Failed) != 0 {
		t.Fatalf("failed %v: %s", res.Failed, h.logs)
	}
	if res.Counts[CountDelivered] != 3 || res.Counts[CountAcknowledged] != 3 {
		t.Errorf("counts %+v", res.Counts)
	}
	if b := h.balance(t, promoter7); b != (reward.Deltas{Available: 1500, Fulfilled: 1500}) {
		t.Errorf("balance %+v, want three rewards once each", b)
	}
	if n := h.sim.CallCount("GET /firstpromoter/api/v2/company/commissions"); n != 1 {
		t.Errorf("%d enrichment requests for one batch, want 1", n)
	}
	if n := h.sim.CallCount("POST"); n != 1 {
		t.Errorf("%d mark_fulfilled requests for one batch, want 1", n)
	}
}

func TestPlatformOutageHoldsBackOnlyWhatNeedsThePlatform(t *testing.T) {
	h := newHarness(t)
	h.fpCommission(1, "approved")
	conv := map[string]any{"id": "conv_1", "affiliateId": "aff_1", "amount": 10000, "currency": "usd", "commissionAmount": 2000, "status": "pending"}
	fpMsg := h.fpEvent("a1", "commission.updated", 1, "pending")
	arMsg := h.arEvent(t, "msg_1", "conversion.created", conv)
	h.sim.InjectFaults(simulator.Fault{Status: 503}, simulator.Fault{Status: 503}, simulator.Fault{Status: 429}, simulator.Fault{Status: 500})
	res := h.p.Process(t.Context(), []Message{fpMsg, arMsg})
	if len(res.Failed) != 0 {
		t.Errorf("failed %v, want none: waiting for the platform is no failure", res.Failed)
	}
	if diff := cmp.Diff([]Later{{ID: fpMsg.ID, After: time.Minute}}, res.Later); diff != "" {
		t.Fatalf("messages to deliver later (-want +got):\n%s", diff)
	}
	aff := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("aff_1"), Unit: reward.Cash, Currency: "usd"}
	if b := h.balance(t, aff); b != (reward.Deltas{Pending: 2000}) {
		t.Errorf("agentref balance %+v", b)
	}
	// The queue delivers it again once the platform is back.
	res = h.p.Process(t.Context(), []Message{fpMsg})
	if len(res.Failed) != 0 || len(res.Later) != 0 || res.Counts[CountDelivered] != 1 {
		t.Errorf("retry: %+v", res)
	}
}

// crashAfterLedger stands for a processor that dies after its ledger
// writes and before telling the platform.
type crashAfterLedger struct{ FirstPromoterAPI }

func (crashAfterLedger) MarkFulfilled(context.Context, []int64) (firstpromoter.BatchResult, error) {
	return firstpromoter.BatchResult{}, errors.New("process killed")
}

func TestCrashBetweenLedgerAndMarkFulfilledKeepsTheWork(t *testing.T) {
	h := newHarness(t)
	h.fpCommission(1, "approved")
	msg := h.fpEvent("a1", "commission.updated", 1, "pending")
	real := fpOf(h.p)
	setFP(h.p, crashAfterLedger{real})
	res := h.p.Process(t.Context(), []Message{msg})
	if len(res.Failed) != 0 {
		t.Errorf("a platform failure after delivery failed the message: %+v", res)
	}
	out, err := h.store.Outbox(t.Context(), reward.FirstPromoter, 10)
	if err != nil || len(out) != 1 || out[0].ID != "1" {
		t.Fatalf("outbox %v %v, want commission 1", out, err)
	}
	// Redelivery after the crash changes nothing and delivers nothing twice.
	setFP(h.p, real)
	res = h.p.Process(t.Context(), []Message{msg})
	if res.Counts[CountDuplicate] != 1 || res.Counts[CountDelivered] != 0 {
		t.Errorf("redelivery: %+v", res.Counts)
	}
	if b := h.balance(t, promoter7); b != (reward.Deltas{Available: 500}) {
		t.Errorf("balance %+v, want one delivery, not acknowledged yet", b)
	}
}

func TestMarkFulfilledPartialAndAsyncAnswers(t *testing.T) {
	h := newHarness(t)
	var batch []Message
	for id := int64(1); id <= 3; id++ {
		h.fpCommission(id, "approved")
		batch = append(batch, h.fpEvent("a"+string(rune('0'+id)), "commission.updated", id, "pending"))
	}
	h.sim.FailFulfilment(2, "payout missing")
	res := h.p.Process(t.Context(), batch)
	if res.Counts[CountAcknowledged] != 2 || res.Counts[CountAckRefused] != 1 || len(res.Failed) != 0 {
		t.Errorf("partial: %+v", res)
	}
	c, err := h.store.Commission(t.Context(), reward.FirstPromoter, "2")
	if err != nil || c.Fulfilment != reward.Refused || c.FulfilmentError != "payout missing" {
		t.Errorf("commission 2: %+v %v", c, err)
	}

	h2 := newHarness(t)
	batch = nil
	for id := int64(1); id <= 7; id++ {
		h2.fpCommission(id, "approved")
		batch = append(batch, h2.fpEvent("b"+string(rune('0'+id)), "commission.updated", id, "pending"))
	}
	res = h2.p.Process(t.Context(), batch)
	if res.Counts[CountAckPending] != 7 {
		t.Errorf("async: %+v", res.Counts)
	}
	out, _ := h2.store.Outbox(t.Context(), reward.FirstPromoter, 10)
	batches, err := h2.store.Batches(t.Context(), reward.FirstPromoter)
	if len(out) != 7 || err != nil || len(batches) != 1 || len(batches[0].CommissionIDs) != 7 {
		t.Errorf("after an async batch: outbox %d items, batches %+v %v", len(out), batches, err)
	}
}

func TestIgnoredDeliveries(t *testing.T) {
	h := newHarness(t)
	c := h.fpCommission(1, "approved")
	c.Unit = "cash"
	h.sim.PutCommission(c)
	res := h.p.Process(t.Context(), []Message{h.fpEvent("cash1", "commission.updated", 1, "pending")})
	if res.Counts[CountIgnored] != 1 || res.Counts[CountApplied] != 0 {
		t.Errorf("cash commission: %+v", res.Counts)
	}
	if n := h.sim.CallCount("POST"); n != 0 {
		t.Errorf("cash commission was acknowledged on the platform")
	}
}

func TestReferralRewards(t *testing.T) {
	h := newHarness(t)
	h.sim.PutCommission(simulator.FPCommission{ID: 5, Status: "approved", Unit: "credits", Amount: 20, PromoterID: 7, RewardID: 99, ReferralID: 31, UID: "cust-31", CreatedAt: t0})
	res := h.p.Process(t.Context(), []Message{h.fpEvent("r1", "commission.updated", 5, "pending")})
	if res.Counts[CountDelivered] != 1 {
		t.Fatalf("%+v %s", res, h.logs)
	}
	acct := reward.Account{Provider: reward.FirstPromoter, Recipient: reward.Referral("cust-31", "31"), Unit: reward.Credits}
	if b := h.balance(t, acct); b.Available != 20 {
		t.Errorf("referral balance %+v", b)
	}
}

func TestAgentRefConversionsHoldsAndPayouts(t *testing.T) {
	h := newHarness(t)
	aff := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("aff_1"), Unit: reward.Cash, Currency: "usd"}
	conv := func(id, status string, commission int64) map[string]any {
		return map[string]any{"id": id, "affiliateId": "aff_1", "amount": 10000, "currency": "USD", "commissionAmount": commission, "status": status}
	}
	msgs := []Message{
		h.arEvent(t, "m1", "conversion.created", conv("c1", "pending", 2000)),
		h.arEvent(t, "m2", "conversion.created", conv("c2", "approved", 1000)),
		h.arEvent(t, "m3", "affiliate.blocked", map[string]any{"id": "aff_1", "status": "blocked"}),
		h.arEvent(t, "m4", "conversion.created", map[string]any{"id": "c3", "affiliateId": "aff_1", "saleAmount": 5000, "currency": "usd", "commission": 500, "status": "approved"}),
		h.arEvent(t, "m5", "conversion.refunded", conv("c2", "partially_refunded", 600)),
		h.arEvent(t, "m6", "conversion.refunded", conv("c1", "refunded", 0)),
		h.arEvent(t, "m7", "payout.completed", map[string]any{"id": "po1", "affiliateId": "aff_1", "amount": 300, "status": "completed"}),
		h.arEvent(t, "m8", "payout.created", map[string]any{"id": "po2", "affiliateId": "aff_1", "amount": 300, "status": "pending"}),
		h.arEvent(t, "m9", "program.updated", map[string]any{"id": "prg_1"}),
	}
	res := h.p.Process(t.Context(), msgs)
	if len(res.Failed) != 0 {
		t.Fatalf("failed %v\n%s", res.Failed, h.logs)
	}
	// c1 voided; c2 delivered 1000 then reversed 400; c3 approved while the
	// affiliate is held: pending only; payout 300 debited.
	want := reward.Deltas{Pending: 500, Available: 1000 - 400 - 300, Reversed: 400}
	if b := h.balance(t, aff); b != want {
		t.Errorf("balance %+v, want %+v", b, want)
	}
	res = h.p.Process(t.Context(), []Message{h.arEvent(t, "m10", "payout.failed", map[string]any{"id": "po1", "affiliateId": "aff_1", "amount": 300, "status": "failed"})})
	if res.Counts[CountApplied] != 1 {
		t.Errorf("payout.failed: %+v", res.Counts)
	}
	if b := h.balance(t, aff); b.Available != 600 {
		t.Errorf("after the failed payout: %+v", b)
	}
}

func TestUndecodableAndConflictingEventsFail(t *testing.T) {
	h := newHarness(t)
	bad := h.fpEvent("x1", "commission.updated", 1, "")
	bad.Delivery.Body = []byte(`{"event_id":"x1","data":{"id":"not-a-number"}}`)
	res := h.p.Process(t.Context(), []Message{bad})
	if len(res.Failed) != 1 {
		t.Errorf("bad commission id: %+v", res)
	}
}

// listedPlatform lists the commissions of rows.
type listedPlatform struct {
	FirstPromoterAPI
	rows map[int64]firstpromoter.Commission
}

func (l listedPlatform) Commissions(_ context.Context, ids []int64) ([]firstpromoter.Commission, error) {
	var out []firstpromoter.Commission
	for _, id := range ids {
		if c, ok := l.rows[id]; ok {
			out = append(out, c)
		}
	}
	return out, nil
}

func TestLanesKeepEachRecipientsOrder(t *testing.T) {
	fp := map[int64]firstpromoter.Commission{}
	for _, c := range []struct{ id, promoter int64 }{{1, 7}, {2, 7}, {3, 8}} {
		var row firstpromoter.Commission
		if err := json.Unmarshal(fmt.Appendf(nil, `{"id":%d,"status":"approved","unit":"points","amount":500,"promoter_campaign":{"promoter_id":%d}}`, c.id, c.promoter), &row); err != nil {
			t.Fatal(err)
		}
		fp[c.id] = row
	}
	fpMsg := func(id string, commission int64) Message {
		return Message{ID: id, Delivery: webhook.Delivery{Provider: webhook.FirstPromoter, Body: fmt.Appendf(nil, `{"event_type":"commission.updated","data":{"id":%d}}`, commission)}}
	}
	arMsg := func(id, eventType, data string) Message {
		return Message{ID: id, Delivery: webhook.Delivery{Provider: webhook.AgentRef, Body: fmt.Appendf(nil, `{"type":%q,"data":%s}`, eventType, data)}}
	}
	msgs := []Message{
		fpMsg("a", 1), arMsg("b", "affiliate.blocked", `{"id":"aff1"}`), fpMsg("c", 3), fpMsg("d", 2),
		arMsg("e", "conversion.created", `{"id":"cv1","affiliateId":"aff1"}`), fpMsg("f", 99), arMsg("g", "payout.completed", `{"id":"po1","affiliateId":"aff2"}`),
		fpMsg("h", 99), {ID: "i", Delivery: webhook.Delivery{Provider: webhook.AgentRef, Body: []byte("not json")}}, fpMsg("j", 1),
	}
	p := &Processor{Platforms: platforms(listedPlatform{rows: fp}), Config: DefaultConfig(), Log: discard(), Now: func() time.Time { return t0 }}
	b := &batchState{res: Result{Counts: map[string]int{}, Reasons: map[string]string{}}}
	var got []string
	for _, lane := range lanes(p.prepare(t.Context(), b, msgs)) {
		var ids []string
		for _, m := range lane {
			ids = append(ids, m.ID)
		}
		got = append(got, strings.Join(ids, ""))
	}
	// Promoter 7 (commissions 1 and 2) in queue order, affiliate aff1's
	// hold before its conversion, the unknown commission 99 on its own.
	want := []string{"adj", "be", "c", "fh", "g", "i"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("lanes %v, want %v", got, want)
	}
}
