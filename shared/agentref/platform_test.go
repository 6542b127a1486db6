package agentref

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// heldLedger holds the affiliates it names.
type heldLedger map[reward.Recipient]bool

func (l heldLedger) Commission(context.Context, reward.Provider, string) (reward.Commission, error) {
	return reward.Commission{}, reward.ErrNotFound
}

func (l heldLedger) Held(_ context.Context, _ reward.Provider, r reward.Recipient) (bool, error) {
	return l[r], nil
}

// TestPlatformLanesByAffiliateAndReadsTheHoldOfAnApproval: a hold and the
// conversions it holds share their affiliate's lane; an approval carries
// whether its affiliate is held, a pending conversion needs no hold.
func TestPlatformLanesByAffiliateAndReadsTheHoldOfAnApproval(t *testing.T) {
	bodies := []string{
		`{"id":"m1","type":"affiliate.blocked","data":{"id":"a1"}}`,
		`{"id":"m2","type":"conversion.created","data":{"id":"c1","affiliateId":"a1","commissionAmount":100,"status":"approved"}}`,
		`{"id":"m3","type":"conversion.created","data":{"id":"c2","affiliateId":"a2","commissionAmount":100,"status":"pending"}}`,
		`{"id":"m4","type":"program.updated","data":{}}`,
	}
	ds := make([]reward.Delivery, len(bodies))
	for i, b := range bodies {
		ds[i] = reward.Delivery{Body: []byte(b), ReceivedAt: time.Unix(0, 0)}
	}
	b, err := (&Platform{Currency: "usd"}).Prepare(t.Context(), ds)
	if err != nil {
		t.Fatal(err)
	}
	var lanes []string
	for i := range ds {
		lanes = append(lanes, b.Lane(i))
	}
	if want := []string{"agentref#affiliate#a1", "agentref#affiliate#a1", "agentref#affiliate#a2", ""}; !slices.Equal(lanes, want) {
		t.Errorf("lanes %q, want %q", lanes, want)
	}
	l := heldLedger{reward.Affiliate("a1"): true, reward.Affiliate("a2"): true}
	if req, err := b.Request(t.Context(), 1, l); err != nil || req.Intent == nil || !req.Intent.Held || !req.Intent.HoldKnown {
		t.Errorf("approval of a held affiliate: %+v %v, want it held, the hold known (its write checks it)", req.Intent, err)
	}
	if req, err := b.Request(t.Context(), 2, l); err != nil || req.Intent == nil || req.Intent.Held || req.Intent.HoldKnown {
		t.Errorf("pending conversion: %+v %v, want no hold read into it", req.Intent, err)
	}
	if req, err := b.Request(t.Context(), 0, l); err != nil || req.Hold == nil || !req.Hold.Held {
		t.Errorf("affiliate.blocked: %+v %v, want a hold", req, err)
	}
}
