package agentref

import (
	"errors"
	"testing"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// TestParseEventDecodesTheDataOnceForItsType: each handled type's data is
// decoded into its own shape, the affiliate it concerns is read from it,
// and data that does not decode is the event's refusal, not the envelope's.
func TestParseEventDecodesTheDataOnceForItsType(t *testing.T) {
	cases := []struct {
		body, recipient string
		dataErr         bool
	}{
		{`{"type":"conversion.created","data":{"id":"c1","affiliateId":"a1","commissionAmount":100}}`, "a1", false},
		{`{"type":"payout.completed","data":{"id":"p1","affiliateId":"a2","amount":300}}`, "a2", false},
		{`{"type":"affiliate.blocked","data":{"id":"a3"}}`, "a3", false},
		{`{"type":"flag.resolved","data":{"id":"f1","affiliateId":"a4","status":"confirmed"}}`, "a4", false},
		{`{"type":"payout.created","data":{"id":"p2","affiliateId":"a5","amount":3.5}}`, "a5", false},
		{`{"type":"conversion.created","data":{"id":"c2","affiliateId":"a1","commission":"lots"}}`, "", true},
		{`{"type":"affiliate.blocked","data":{"id":12}}`, "", true},
	}
	for _, c := range cases {
		e, err := ParseEvent([]byte(c.body))
		if err != nil {
			t.Fatalf("%s: %v", c.body, err)
		}
		if got := e.Recipient(); got != c.recipient {
			t.Errorf("%s: recipient %q, want %q", c.body, got, c.recipient)
		}
		if (e.DataErr != nil) != c.dataErr || e.DataErr != nil && !errors.Is(e.DataErr, reward.ErrInvalid) {
			t.Errorf("%s: data error %v, want one: %v", c.body, e.DataErr, c.dataErr)
		}
	}
	if _, err := ParseEvent([]byte("not json")); !errors.Is(err, reward.ErrInvalid) {
		t.Errorf("an envelope that is not JSON: %v, want reward.ErrInvalid", err)
	}
}

// TestAPaidConversionIsAnApprovedOne: paid follows an approval; the
// ledger's target is approved.
func TestAPaidConversionIsAnApprovedOne(t *testing.T) {
	cents := int64(250)
	in, err := ConversionData{ID: "c1", AffiliateID: "a1", CommissionAmount: &cents, Status: "paid"}.Intent("usd")
	if err != nil {
		t.Fatal(err)
	}
	if in.Target != reward.TargetApproved || in.Amount != 250 || in.Account.Currency != "usd" {
		t.Errorf("intent %+v, want approved 250 usd", in)
	}
}
