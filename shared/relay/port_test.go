package relay

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/fake"
	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

// otherProvider is a platform known to relay only through its ports.
const otherProvider reward.Provider = "otherplatform"

var errOtherDown = errors.New("otherplatform: connection refused")

// otherPlatform is a third platform built on the ports alone: each of its
// deliveries approves the commission its body names, for affiliate x, and
// the platform cannot be reached to be told of deliveries or of failed
// ones, which it answers, as Go code commonly does, with no settlement at
// all beside its error.
type otherPlatform struct{}

var (
	_ reward.Platform     = otherPlatform{}
	_ reward.Reconcilable = otherPlatform{}
	_ reward.Acknowledger = otherPlatform{}
	_ reward.Unfulfiller  = otherPlatform{}
)

var otherAccount = reward.Account{Provider: otherProvider, Recipient: reward.Affiliate("x"), Unit: reward.Points}

func (otherPlatform) Provider() reward.Provider { return otherProvider }

func (otherPlatform) Prepare(_ context.Context, ds []reward.Delivery) (reward.Prepared, error) {
	return otherBatch(ds), nil
}

func (otherPlatform) Steps() []reward.Step               { return nil }
func (otherPlatform) Chunk() (acknowledge, unfulfil int) { return 10, 10 }

func (otherPlatform) Acknowledge(context.Context, []string) (*reward.Settlement, error) {
	return nil, errOtherDown
}

func (otherPlatform) Unfulfil(context.Context, []string) (*reward.Settlement, error) {
	return nil, errOtherDown
}

type otherBatch []reward.Delivery

func (b otherBatch) Lane(int) string { return "" }

func (b otherBatch) Request(_ context.Context, i int, _ reward.LedgerReader) (reward.Request, error) {
	return reward.Request{Intent: &reward.Intent{
		Provider: otherProvider, CommissionID: string(b[i].Body), Target: reward.TargetApproved,
		Account: otherAccount, Amount: 40, Acknowledge: true,
	}}, nil
}

// A platform that cannot be told of a delivery, and says so with a nil
// settlement, leaves the delivery in the outbox, for the processor and for
// the reconciler alike.
func TestAnUnreachablePlatformWithoutASettlementLeavesTheDeliveryInTheOutbox(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		h.p.Platforms = append(h.p.Platforms, otherPlatform{})
		res := h.p.Process(t.Context(), []Message{{ID: "m-1", Delivery: webhook.Delivery{
			Provider: webhook.Provider(otherProvider), EventID: "o-1", EventType: "approved", ReceivedAt: t0, Body: []byte("c1"),
		}}})
		if len(res.Failed) != 0 {
			t.Fatalf("failed %v (%v), want none: the reward is delivered", res.Failed, res.Reasons)
		}
		if got := res.Counts[CountDelivered]; got != 1 {
			t.Errorf("delivered %d, want 1", got)
		}
		if got := res.Counts[CountPlatformError]; got != 1 {
			t.Errorf("platform errors %d, want 1", got)
		}
		if got := h.balance(t, otherAccount); got.Available != 40 || got.Fulfilled != 0 {
			t.Errorf("balance %+v, want 40 available, none fulfilled", got)
		}

		rc := &Reconciler{Processor: h.p, Platforms: []reward.Reconcilable{otherPlatform{}}}
		run := rc.Run(t.Context())
		if len(run.Errors) != 1 {
			t.Errorf("run errors %q, want the outbox's one", run.Errors)
		}
		out, err := h.store.Outbox(t.Context(), otherProvider, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 1 || out[0].ID != "c1" {
			t.Errorf("outbox %v, want c1 still in it", out)
		}
	})
}

// A failed delivery the platform cannot be told of, with a nil settlement,
// stays to be told.
func TestAnUnreachablePlatformWithoutASettlementKeepsAFailedDeliveryToTell(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		h.p.Platforms = append(h.p.Platforms, otherPlatform{})
		h.p.Process(t.Context(), []Message{{ID: "m-1", Delivery: webhook.Delivery{
			Provider: webhook.Provider(otherProvider), EventID: "o-1", EventType: "approved", ReceivedAt: t0, Body: []byte("c1"),
		}}})
		c, err := h.store.Commission(t.Context(), otherProvider, "c1")
		if err != nil {
			t.Fatal(err)
		}
		// The platform confirmed it later; then the merchant's delivery failed.
		ack, err := reward.Acknowledge(c, "", t0)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.store.Apply(t.Context(), reward.EventRecord{}, ack); err != nil {
			t.Fatal(err)
		}
		undelivered, err := reward.PlanUndelivered(ack.After, "the gift card service is down", "arn:aws:iam::123456789012:user/shop", t0)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.store.Apply(t.Context(), reward.EventRecord{}, undelivered); err != nil {
			t.Fatal(err)
		}

		rc := &Reconciler{Processor: h.p, Platforms: []reward.Reconcilable{otherPlatform{}}}
		run := rc.Run(t.Context())
		if len(run.Errors) != 1 || run.Counts[CountPlatformError] != 1 {
			t.Errorf("run errors %q, platform errors %d: want the failed deliveries' one", run.Errors, run.Counts[CountPlatformError])
		}
		lane, err := h.store.UnfulfilOutbox(t.Context(), otherProvider, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(lane) != 1 || lane[0].ID != "c1" {
			t.Errorf("failed deliveries to tell %v, want c1", lane)
		}
	})
}

// unpreparedPlatform is a platform that cannot be reached, and answers Prepare
// with no batch at all beside its error.
type unpreparedPlatform struct{ otherPlatform }

func (unpreparedPlatform) Prepare(context.Context, []reward.Delivery) (reward.Prepared, error) {
	return nil, errOtherDown
}

// A platform that cannot be reached to prepare its deliveries, and says so
// with no batch, has them wait for it like any platform's, not fail.
func TestDeliveriesOfAPlatformThatPreparesNoBatchWaitForIt(t *testing.T) {
	p := &Processor{Store: fake.NewStore(), Platforms: []reward.Platform{unpreparedPlatform{}}, Config: DefaultConfig(), Log: discard(), Now: func() time.Time { return t0 }}
	res := p.Process(t.Context(), []Message{{ID: "m-1", Delivery: webhook.Delivery{
		Provider: webhook.Provider(otherProvider), EventID: "o-1", EventType: "approved", ReceivedAt: t0, Body: []byte("c1"),
	}}})
	if len(res.Failed) != 0 || len(res.Later) != 1 || res.Later[0].ID != "m-1" {
		t.Errorf("failed %v (%v), later %v: want m-1 to wait for its platform", res.Failed, res.Reasons, res.Later)
	}
	if got := res.Counts[CountPlatformError]; got != 1 {
		t.Errorf("platform errors %d, want 1", got)
	}
}
