package relay

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/fake"
	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

// ingestCase is a delivery body, in one of the forms a platform may send,
// that goes through ingest and, if queued, through the processor.
type ingestCase struct {
	name     string
	provider webhook.Provider
	body     string
}

// ingestCases uses commission ids 1 to 9 (FirstPromoter) and one
// conversion per case (AgentRef), so that no two cases share a commission.
func ingestCases() []ingestCase {
	fp := func(name string, id int, eventType, changes, data string) ingestCase {
		body := fmt.Sprintf(`{"event_id":"fp-%d","event_type":%q,"changes":%s,"data":%s}`, id, eventType, changes, data)
		return ingestCase{name, webhook.FirstPromoter, body}
	}
	ar := func(name, eventType, data string) ingestCase {
		body := fmt.Sprintf(`{"id":"msg-%s","type":%q,"schemaVersion":2,"createdAt":"2026-11-20T11:59:00Z","environment":"production","data":%s}`, name, eventType, data)
		return ingestCase{name, webhook.AgentRef, body}
	}
	return []ingestCase{
		fp("id as a number", 1, "commission.updated", `{"status":["pending","approved"]}`, `{"id":1,"status":"approved","amount":500,"unit":"points"}`),
		fp("id as a numeric string", 2, "commission.created", `{}`, `{"id":"2","status":"pending","amount":500,"unit":"points"}`),
		fp("old status null, no unit", 3, "commission.updated", `{"status":[null,"approved"]}`, `{"id":3,"referral":null}`),
		fp("referral without id", 4, "commission.approved", `null`, `{"id":4,"referral":{"uid":"u-4"},"created_at":"x"}`),
		fp("id a word", 5, "commission.updated", `{"status":["pending","approved"]}`, `{"id":"x","status":"approved","amount":500,"unit":"points"}`),
		fp("amount a word", 6, "commission.updated", `{"status":["pending","approved"]}`, `{"id":6,"status":"approved","amount":"lots","unit":"points"}`),
		fp("unit unknown", 7, "commission.created", `{}`, `{"id":7,"amount":500,"unit":"stars"}`),
		fp("changes.status of numbers", 8, "commission.updated", `{"status":[1,2]}`, `{"id":8}`),
		fp("referral id a word", 9, "commission.created", `{}`, `{"id":9,"referral":{"id":"r9"}}`),
		fp("payout of a fractional amount", 10, "payout.updated", `{"status":["pending","completed"]}`, `{"id":12,"status":"completed","amount":25.5,"unit":"cash"}`),

		ar("conversion", "conversion.created", `{"id":"c-conversion","affiliateId":"aff_1","amount":10000,"currency":"usd","commissionAmount":2000,"status":"pending"}`),
		ar("conversion named commission", "conversion.created", `{"id":"c-named","affiliateId":"aff_1","saleAmount":99.5,"commission":500,"status":"approved"}`),
		ar("refund", "conversion.refunded", `{"id":"c-refund","affiliateId":"aff_1","commissionAmount":0,"status":"refunded"}`),
		ar("commission in dollars", "conversion.created", `{"id":"c-dollars","affiliateId":"aff_1","commissionAmount":25.8}`),
		ar("commission missing", "conversion.created", `{"id":"c-missing","affiliateId":"aff_1","amount":12900}`),
		ar("conversion without affiliate", "conversion.created", `{"id":"c-alone","commissionAmount":100}`),
		ar("dismissed flag", "flag.resolved", `{"id":"f1","status":"dismissed"}`),
		ar("confirmed flag without affiliate", "flag.resolved", `{"id":"f2","status":"confirmed"}`),
		ar("flag without its resolution", "flag.resolved", `{"id":"f3","affiliateId":"aff_1","type":"self_referral"}`),
		ar("affiliate id a number", "affiliate.blocked", `{"id":2}`),
		ar("payout", "payout.completed", `{"id":"po1","affiliateId":"aff_2","amount":300,"status":"completed"}`),
		ar("payout in dollars", "payout.completed", `{"id":"po2","affiliateId":"aff_2","amount":3.5}`),
		ar("payout without affiliate", "payout.failed", `{"id":"po3","amount":300}`),
		ar("payout.created in dollars", "payout.created", `{"id":"po4","amount":3.5}`),

		// Ids the platform chose: the longest queued (the separator of entry
		// ids, escaped, takes three bytes), and longer than any key DynamoDB
		// takes.
		{"event id of 256 bytes", webhook.FirstPromoter, `{"event_id":"` + strings.Repeat("e", 256) + `","event_type":"commission.created","data":{"id":1,"amount":500,"unit":"points"}}`},
		ar("ids of 256 bytes", "conversion.created", `{"id":"`+strings.Repeat("#", 256)+`","affiliateId":"`+strings.Repeat("a", 256)+`","currency":"`+strings.Repeat("u", 256)+`","commissionAmount":100,"status":"pending"}`),
		ar("payout ids of 256 bytes", "payout.completed", `{"id":"`+strings.Repeat("#", 256)+`","affiliateId":"`+strings.Repeat("a", 256)+`","currency":"`+strings.Repeat("u", 256)+`","amount":300,"status":"completed"}`),
		{"event id of 2 KiB", webhook.FirstPromoter, `{"event_id":"` + strings.Repeat("e", 2048) + `","event_type":"commission.created","data":{"id":1,"amount":500,"unit":"points"}}`},
		ar("conversion id of 1 KiB", "conversion.created", `{"id":"`+strings.Repeat("c", 1024)+`","affiliateId":"aff_1","commissionAmount":100,"status":"pending"}`),
		ar("affiliate id of 2 KiB", "conversion.created", `{"id":"c-long-affiliate","affiliateId":"`+strings.Repeat("a", 2048)+`","commissionAmount":100,"status":"pending"}`),
		ar("currency of 2 KiB", "conversion.created", `{"id":"c-long-currency","affiliateId":"aff_1","currency":"`+strings.Repeat("u", 2048)+`","commissionAmount":100,"status":"pending"}`),
		ar("blocked affiliate id of 2 KiB", "affiliate.blocked", `{"id":"`+strings.Repeat("a", 2048)+`","status":"blocked"}`),
		ar("payout id of 1 KiB", "payout.completed", `{"id":"`+strings.Repeat("p", 1024)+`","affiliateId":"aff_2","amount":300,"status":"completed"}`),
	}
}

// TestIngestQueuesOnlyWhatTheProcessorApplies: every case that ingest
// queues is applied by the processor without failing; nothing it queues
// would be retried and dead-lettered for its content.
func TestIngestQueuesOnlyWhatTheProcessorApplies(t *testing.T) {
	const fpWebhookSecret = "3f9c2a7d1e8b4c6f0a5d2e9b7c1f4a8d"
	in, err := webhook.New(webhook.Settings{
		FirstPromoter: webhook.FirstPromoterAuth{Secrets: []string{fpWebhookSecret}},
		AgentRef:      webhook.AgentRefAuth{Secrets: []string{arSecret}},
	}, func() time.Time { return t0 })
	if err != nil {
		t.Fatal(err)
	}
	var queued []Message
	names := map[string]string{}
	for i, c := range ingestCases() {
		h := webhook.Header{"content-type": "application/json"}
		if c.provider == webhook.FirstPromoter {
			h["x-webhook-signature"] = webhook.SignFirstPromoter(fpWebhookSecret, []byte(c.body))
		} else {
			sig, err := webhook.SignAgentRef(arSecret, "msg-"+c.name, t0.Unix(), []byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			h["svix-id"], h["svix-timestamp"], h["svix-signature"] = "msg-"+c.name, strconv.FormatInt(t0.Unix(), 10), sig
		}
		r, err := in.Check(webhook.Request{Method: "POST", Provider: string(c.provider), Header: h, Body: []byte(c.body)})
		if err != nil || r.Ignored != "" {
			continue
		}
		m := Message{ID: "m" + strconv.Itoa(i), Delivery: webhook.Delivery{Provider: r.Provider, EventID: r.EventID, EventType: r.EventType, ReceivedAt: t0, Body: []byte(c.body)}}
		queued = append(queued, m)
		names[m.ID] = c.name
	}
	if len(queued) < 10 {
		t.Fatalf("only %d cases queued: the cases no longer exercise the processor", len(queued))
	}
	for _, store := range []string{"DynamoDB Local", "fake"} {
		t.Run(store, func(t *testing.T) {
			h := newHarness(t)
			if store == "fake" {
				h.store = fake.NewStore()
				h.p.Store = h.store
			}
			for id := range int64(9) {
				h.fpCommission(id+1, "approved")
			}
			res := h.p.Process(t.Context(), queued)
			for _, id := range res.Failed {
				t.Errorf("queued %q, then the processor failed it", names[id])
			}
			if t.Failed() {
				t.Logf("processor log:\n%s", h.logs)
			}
		})
	}
}

// TestIngestKnowsEveryUnit: ingest keeps its own list of FirstPromoter units
// (it imports only the standard library); every unit of the domain must be
// on it, or its commissions would be refused at the door.
func TestIngestKnowsEveryUnit(t *testing.T) {
	const secret = "3f9c2a7d1e8b4c6f0a5d2e9b7c1f4a8d"
	in, err := webhook.New(webhook.Settings{FirstPromoter: webhook.FirstPromoterAuth{Secrets: []string{secret}}}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range append([]reward.Unit{reward.Cash}, reward.NonMonetary...) {
		body := []byte(fmt.Sprintf(`{"event_id":"e-%s","event_type":"commission.created","data":{"id":1,"amount":5,"unit":%q}}`, u, u))
		h := webhook.Header{"content-type": "application/json", "x-webhook-signature": webhook.SignFirstPromoter(secret, body)}
		if r, err := in.Check(webhook.Request{Method: "POST", Provider: "firstpromoter", Header: h, Body: body}); err != nil || r.Ignored != "" {
			t.Errorf("unit %s: %+v, %v; want queued", u, r, err)
		}
	}
}
