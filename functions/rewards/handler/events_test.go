package handler

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rewardrelay/rewardrelay/shared/fake"
	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// TestReplaySamples decodes the committed samples (events/rewards-*.json,
// for sam local invoke) into the real aws-lambda-go type and runs them, in
// this order, through the handler over a ledger where promoter 1001 has
// 500 points, acknowledged by FirstPromoter: the caller's ARN from the IAM
// authorizer is the actor.
func TestReplaySamples(t *testing.T) {
	a := newAPI(t, fake.NewStore())
	a.deliver(t, reward.Promoter("1001"), "41001", 500)
	a.acknowledge(t, "41001")
	for _, s := range []struct {
		file   string
		status int
	}{
		{"rewards-balances.json", 200},
		{"rewards-delivery-failed.json", 202}, // FirstPromoter is to be told
		{"rewards-redeliver.json", 202},
		{"rewards-redeem-hold.json", 201},
		{"rewards-capture.json", 200},
		{"rewards-entries.json", 200},
	} {
		raw, err := os.ReadFile(filepath.Join("../../../events", s.file))
		if err != nil {
			t.Fatal(err)
		}
		var req events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			t.Fatalf("%s: %v", s.file, err)
		}
		resp, err := a.h.Handle(t.Context(), req)
		if err != nil || resp.StatusCode != s.status {
			t.Errorf("%s: %d %s %v, want %d", s.file, resp.StatusCode, resp.Body, err, s.status)
		}
	}
	l, _ := a.store.Ledger(t.Context())
	for _, e := range l.Entries {
		if (e.Kind == reward.KindRedeemCapture || e.Kind == reward.KindUndelivered || e.Kind == reward.KindRedelivered) && e.Actor != "arn:aws:sts::123456789012:assumed-role/shop/shop-backend" {
			t.Errorf("capture entry actor %q", e.Actor)
		}
	}
	if v := l.Audit(); len(v) > 0 {
		t.Errorf("audit: %v", v)
	}
	files, _ := filepath.Glob("../../../events/rewards-*.json")
	if len(files) != 6 {
		t.Errorf("events/ has %d rewards samples, this test replays 6", len(files))
	}
}
