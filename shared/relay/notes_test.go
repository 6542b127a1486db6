package relay

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/rewardrelay/rewardrelay/shared/simulator"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

// An event its platform decides changes nothing (a unit this deployment
// does not deliver, a commission the platform does not list) is logged
// with its commission's id as a field, as every line that concerns a
// commission is.
func TestAnEventThatChangesNothingIsLoggedWithItsCommission(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		cash := simulator.FPCommission{ID: 31, Status: "approved", Unit: "cash", Amount: 500, PromoterID: 7, RewardID: 3, CreatedAt: t0}
		h.sim.PutCommission(cash)
		unlisted := simulator.FPCommission{ID: 32, Status: "approved", Unit: "points", Amount: 500, PromoterID: 7, RewardID: 3, CreatedAt: t0}
		d := simulator.FirstPromoterEvent(fpSecret, "e-32", "commission.updated", unlisted, "pending", t0)
		res := h.p.Process(t.Context(), []Message{
			h.fpEvent("e-31", "commission.updated", 31, "pending"),
			{ID: "m-32", Delivery: webhook.Delivery{Provider: webhook.FirstPromoter, EventID: "e-32", EventType: "commission.updated", ReceivedAt: t0, Body: d.Body}},
		})
		if len(res.Failed) != 0 || res.Counts[CountIgnored] != 1 || res.Counts[CountStale] != 1 {
			t.Fatalf("result %+v, want one ignored and one stale", res)
		}
		for _, id := range []string{"31", "32"} {
			if !loggedAt(h.logs, "INFO", id) {
				t.Errorf("no INFO line with commission_id %s:\n%s", id, h.logs)
			}
		}
		if !strings.Contains(h.logs.String(), `"commission_id":"31","unit":"cash"`) {
			t.Errorf("the unit line without its unit field:\n%s", h.logs)
		}
	})
}

// loggedAt reports whether a log line of level names the commission in
// its commission_id field.
func loggedAt(logs *bytes.Buffer, level, commission string) bool {
	for _, line := range bytes.Split(logs.Bytes(), []byte("\n")) {
		var rec struct {
			Level        string `json:"level"`
			CommissionID string `json:"commission_id"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Level == level && rec.CommissionID == commission {
			return true
		}
	}
	return false
}
