package agentref

import (
	"errors"
	"testing"
	"time"

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

// TestEventRequestIsWhatTheEventAsksOfTheLedger: a conversion asks for an
// intent (a refund whatever its status says), a hold event for a hold as
// of the event's own time, a payout for its intent, a dismissed flag and
// the recorded-only types for nothing.
func TestEventRequestIsWhatTheEventAsksOfTheLedger(t *testing.T) {
	received := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	created := received.Add(-time.Hour)
	envelope := func(typ, data string) []byte {
		return []byte(`{"id":"msg_1","type":"` + typ + `","createdAt":"` + created.Format(time.RFC3339) + `","data":` + data + `}`)
	}
	request := func(body []byte) reward.Request {
		t.Helper()
		e, err := ParseEvent(body)
		if err != nil {
			t.Fatal(err)
		}
		req, err := e.Request("usd", received)
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		return req
	}
	if req := request(envelope("conversion.refunded", `{"id":"c1","affiliateId":"a1","commissionAmount":500,"status":"approved"}`)); req.Intent == nil || req.Intent.Target != reward.TargetRefunded || req.Intent.Amount != 0 {
		t.Errorf("conversion.refunded: %+v, want a refund of everything", req.Intent)
	}
	if req := request(envelope("flag.resolved", `{"id":"f1","affiliateId":"a1","status":"confirmed"}`)); req.Hold == nil || !req.Hold.Held || !req.Hold.At.Equal(created) || req.Hold.Recipient != reward.Affiliate("a1") {
		t.Errorf("confirmed flag: %+v, want a1 held as of the event's creation", req.Hold)
	}
	if req := request(envelope("flag.resolved", `{"id":"f1","affiliateId":"a1","status":"dismissed"}`)); req != (reward.Request{}) {
		t.Errorf("dismissed flag: %+v, want nothing", req)
	}
	if req := request([]byte(`{"id":"msg_2","type":"affiliate.unblocked","data":{"id":"a1"}}`)); req.Hold == nil || req.Hold.Held || !req.Hold.At.Equal(received) {
		t.Errorf("affiliate.unblocked without createdAt: %+v, want released as of its receipt", req.Hold)
	}
	if req := request(envelope("payout.failed", `{"id":"p1","affiliateId":"a1","amount":300}`)); req.Payout == nil || req.Payout.Status != reward.PayoutFailed || req.Payout.Amount != 300 {
		t.Errorf("payout.failed: %+v", req.Payout)
	}
	if req := request(envelope("payout.created", `{"id":"p1","amount":3.5}`)); req != (reward.Request{}) {
		t.Errorf("payout.created: %+v, want nothing", req)
	}
}
