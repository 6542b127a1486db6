package simulator

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

// Delivery is a webhook as a platform sends it: the raw body and headers.
type Delivery struct {
	Provider webhook.Provider
	EventID  string
	Body     []byte
	Header   map[string]string
}

// FirstPromoterEvent builds and signs a FirstPromoter commission webhook.
// changes is the status change for commission.updated ("" for none).
func FirstPromoterEvent(secret, eventID, eventType string, c FPCommission, oldStatus string, at time.Time) Delivery {
	changes := map[string]any{}
	if oldStatus != "" {
		changes["status"] = []string{oldStatus, c.Status}
	}
	data := map[string]any{
		"id": c.ID, "status": c.Status, "amount": c.Amount, "unit": c.Unit,
		"created_at": c.CreatedAt.UTC().Format(time.RFC3339),
	}
	if c.ReferralID != 0 {
		data["referral"] = map[string]any{"id": c.ReferralID, "email": fmt.Sprintf("customer%d@example.com", c.ReferralID), "uid": c.UID}
	}
	action := "updated"
	if eventType == "commission.created" {
		action = "created"
	}
	body, _ := json.Marshal(map[string]any{
		"event_id": eventID, "event_type": eventType, "action": action, "entity_type": "commission",
		"entity_id": c.ID, "changes": changes, "data": data, "timestamp": at.UTC().Format(time.RFC3339),
	})
	return Delivery{Provider: webhook.FirstPromoter, EventID: eventID, Body: body, Header: map[string]string{
		"content-type":        "application/json",
		"x-event-id":          eventID,
		"x-event-type":        eventType,
		"x-webhook-signature": webhook.SignFirstPromoter(secret, body),
	}}
}

// AgentRefEvent builds and signs an AgentRef envelope around data.
func AgentRefEvent(secret, msgID, eventType string, data any, at time.Time) (Delivery, error) {
	body, err := json.Marshal(map[string]any{
		"id": msgID, "type": eventType, "schemaVersion": 2, "createdAt": at.UTC().Format(time.RFC3339),
		"merchantId": "mer_sim", "programId": "prg_sim", "environment": "production", "data": data,
	})
	if err != nil {
		return Delivery{}, err
	}
	sig, err := webhook.SignAgentRef(secret, msgID, at.Unix(), body)
	if err != nil {
		return Delivery{}, err
	}
	return Delivery{Provider: webhook.AgentRef, EventID: msgID, Body: body, Header: map[string]string{
		"content-type":   "application/json",
		"svix-id":        msgID,
		"svix-timestamp": strconv.FormatInt(at.Unix(), 10),
		"svix-signature": sig,
	}}, nil
}
