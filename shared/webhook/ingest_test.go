package webhook

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var testNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func testIngest(t *testing.T) *Ingest {
	t.Helper()
	in, err := New(Settings{
		FirstPromoter: FirstPromoterAuth{Secrets: []string{fpSecret}},
		AgentRef:      AgentRefAuth{Secrets: []string{vectorSecret}},
	}, func() time.Time { return testNow })
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func fpRequest(body string) Request {
	return Request{Method: "POST", Provider: "firstpromoter", Body: []byte(body), Header: Header{
		"content-type":        "application/json",
		"x-webhook-signature": SignFirstPromoter(fpSecret, []byte(body)),
	}}
}

func arRequest(t *testing.T, body string) Request {
	t.Helper()
	sig, err := SignAgentRef(vectorSecret, "msg_1", testNow.Unix(), []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return Request{Method: "POST", Provider: "agentref", Body: []byte(body), Header: Header{
		"content-type":   "application/json",
		"svix-id":        "msg_1",
		"svix-timestamp": strconv.FormatInt(testNow.Unix(), 10),
		"svix-signature": sig,
	}}
}

func arBody(fields string) string {
	return `{"id":"msg_1","type":"conversion.created","schemaVersion":2,"createdAt":"2026-11-20T11:59:00Z","merchantId":"m1","environment":"production","data":{"id":"c1","affiliateId":"a1","commissionAmount":250}` + fields + `}`
}

func TestCheck(t *testing.T) {
	in := testIngest(t)
	with := func(r Request, f func(*Request)) Request { f(&r); return r }
	tests := []struct {
		name   string
		req    Request
		want   Result
		kind   error
		reason string
	}{
		{
			name: "firstpromoter commission queued",
			req:  fpRequest(`{"event_id":"e1","event_type":"commission.updated","changes":{"status":["pending","approved"]},"data":{"id":7,"status":"approved"}}`),
			want: Result{Provider: FirstPromoter, EventID: "e1", EventType: "commission.updated"},
		},
		{
			name: "firstpromoter test delivery ignored",
			req:  fpRequest(`{"event_id":"e2","event_type":"commission.created","data":{"test":true}}`),
			want: Result{Provider: FirstPromoter, EventID: "e2", EventType: "commission.created", Ignored: "test_delivery", Reason: "test delivery acknowledged; nothing applied"},
		},
		{
			name: "firstpromoter unhandled type ignored",
			req:  fpRequest(`{"event_id":"e3","event_type":"promoter.created","data":{}}`),
			want: Result{Provider: FirstPromoter, EventID: "e3", EventType: "promoter.created", Ignored: "unhandled_event_type", Reason: `event type "promoter.created" is not processed; acknowledged`},
		},
		{
			name: "agentref conversion queued",
			req:  arRequest(t, arBody("")),
			want: Result{Provider: AgentRef, EventID: "msg_1", EventType: "conversion.created"},
		},
		{
			name: "agentref other environment ignored",
			req:  arRequest(t, strings.Replace(arBody(""), `"production"`, `"preview"`, 1)),
			want: Result{Provider: AgentRef, EventID: "msg_1", EventType: "conversion.created", Ignored: "other_environment", Reason: `environment "preview" is not "production"; acknowledged`},
		},
		{
			name: "agentref unhandled type ignored",
			req:  arRequest(t, strings.Replace(arBody(""), "conversion.created", "affiliate.joined", 1)),
			want: Result{Provider: AgentRef, EventID: "msg_1", EventType: "affiliate.joined", Ignored: "unhandled_event_type", Reason: `event type "affiliate.joined" is not processed; acknowledged`},
		},
		{name: "GET", req: with(fpRequest(`{}`), func(r *Request) { r.Method = "GET" }), kind: ErrMethodNotAllowed, reason: `method "GET" is not allowed`},
		{name: "unknown provider", req: with(fpRequest(`{}`), func(r *Request) { r.Provider = "rewardful" }), kind: ErrUnknownProvider, reason: `unknown provider "rewardful"`},
		{name: "provider is case-sensitive", req: with(fpRequest(`{}`), func(r *Request) { r.Provider = "FirstPromoter" }), kind: ErrUnknownProvider, reason: "unknown provider"},
		{name: "over 256 KiB", req: fpRequest(`{"x":"` + strings.Repeat("a", MaxBody) + `"}`), kind: ErrTooLarge, reason: "the limit is 262144"},
		{name: "no content type", req: with(fpRequest(`{}`), func(r *Request) { delete(r.Header, "content-type") }), kind: ErrUnsupportedMediaType, reason: "Content-Type is missing"},
		{name: "form content type", req: with(fpRequest(`{}`), func(r *Request) { r.Header["content-type"] = "application/x-www-form-urlencoded" }), kind: ErrUnsupportedMediaType, reason: `"application/x-www-form-urlencoded" is not JSON`},
		{
			name: "json with charset, header in mixed case",
			req: with(fpRequest(`{"event_id":"e1","event_type":"commission.created","data":{"id":7}}`), func(r *Request) {
				delete(r.Header, "content-type")
				r.Header["Content-Type"] = "Application/JSON; charset=utf-8"
			}),
			want: Result{Provider: FirstPromoter, EventID: "e1", EventType: "commission.created"},
		},
		{
			name: "vendor +json type",
			req:  with(fpRequest(`{"event_id":"e1","event_type":"commission.created","data":{"id":7}}`), func(r *Request) { r.Header["content-type"] = "application/vnd.firstpromoter+json" }),
			want: Result{Provider: FirstPromoter, EventID: "e1", EventType: "commission.created"},
		},
		{name: "authentication before parsing", req: with(fpRequest(`not json`), func(r *Request) { r.Header["x-webhook-signature"] = strings.Repeat("0", 64) }), kind: ErrUnauthenticated, reason: "does not match"},
		{name: "not JSON", req: fpRequest(`{"event_id":`), kind: ErrMalformed, reason: "body is not valid JSON"},
		{name: "trailing garbage", req: fpRequest(`{"event_id":"e","event_type":"commission.created","data":{}} x`), kind: ErrMalformed, reason: "body is not valid JSON (error at byte"},
		{name: "JSON array", req: fpRequest(`[1,2]`), kind: ErrMalformed, reason: "body is a JSON array; an object is expected"},
		{name: "invalid UTF-8", req: fpRequest("{\"event_id\":\"\xff\"}"), kind: ErrMalformed, reason: "not valid UTF-8"},
		{name: "U+FFFF", req: fpRequest("{\"event_id\":\"\uffff\"}"), kind: ErrMalformed, reason: "U+FFFE or U+FFFF"},
		{name: "firstpromoter event_id missing", req: fpRequest(`{"event_type":"commission.created","data":{}}`), kind: ErrMalformed, reason: "event_id must be a non-empty string"},
		{name: "firstpromoter event_id a number", req: fpRequest(`{"event_id":5,"event_type":"commission.created","data":{}}`), kind: ErrMalformed, reason: "event_id must be a non-empty string"},
		{name: "firstpromoter event_type missing", req: fpRequest(`{"event_id":"e","data":{}}`), kind: ErrMalformed, reason: "event_type must be a non-empty string"},
		{name: "firstpromoter data missing", req: fpRequest(`{"event_id":"e","event_type":"commission.created"}`), kind: ErrMalformed, reason: "data must be an object"},
		{name: "firstpromoter data null", req: fpRequest(`{"event_id":"e","event_type":"commission.created","data":null}`), kind: ErrMalformed, reason: "data must be an object"},
		{name: "firstpromoter data a string", req: fpRequest(`{"event_id":"e","event_type":"commission.created","data":"x"}`), kind: ErrMalformed, reason: "data must be an object"},
		{name: "agentref id missing", req: arRequest(t, strings.Replace(arBody(""), `"id":"msg_1",`, "", 1)), kind: ErrMalformed, reason: "id must be a non-empty string"},
		{name: "agentref type missing", req: arRequest(t, strings.Replace(arBody(""), `"type":"conversion.created",`, "", 1)), kind: ErrMalformed, reason: "type must be a non-empty string"},
		{name: "agentref schemaVersion missing", req: arRequest(t, strings.Replace(arBody(""), `"schemaVersion":2,`, "", 1)), kind: ErrMalformed, reason: "schemaVersion must be 2"},
		{name: "agentref schemaVersion 1", req: arRequest(t, strings.Replace(arBody(""), `"schemaVersion":2`, `"schemaVersion":1`, 1)), kind: ErrMalformed, reason: "schemaVersion must be 2"},
		{name: "agentref schemaVersion a string", req: arRequest(t, strings.Replace(arBody(""), `"schemaVersion":2`, `"schemaVersion":"2"`, 1)), kind: ErrMalformed, reason: "schemaVersion must be 2"},
		{name: "agentref createdAt missing", req: arRequest(t, strings.Replace(arBody(""), `"createdAt":"2026-11-20T11:59:00Z",`, "", 1)), kind: ErrMalformed, reason: "createdAt must be an ISO 8601 (RFC 3339) time"},
		{name: "agentref createdAt not a time", req: arRequest(t, strings.Replace(arBody(""), `2026-11-20T11:59:00Z`, `yesterday`, 1)), kind: ErrMalformed, reason: "createdAt must be an ISO 8601 (RFC 3339) time"},
		{name: "agentref environment missing", req: arRequest(t, strings.Replace(arBody(""), `"environment":"production",`, "", 1)), kind: ErrMalformed, reason: "environment must be a non-empty string"},
		{name: "agentref data missing", req: arRequest(t, strings.Replace(arBody(""), `,"data":{"id":"c1","affiliateId":"a1","commissionAmount":250}`, "", 1)), kind: ErrMalformed, reason: "data must be an object"},
		{name: "agentref data an array", req: arRequest(t, strings.Replace(arBody(""), `{"id":"c1","affiliateId":"a1","commissionAmount":250}`, `[]`, 1)), kind: ErrMalformed, reason: "data must be an object"},
		{name: "agentref signed for another body", req: with(arRequest(t, arBody("")), func(r *Request) { r.Body = []byte(arBody(`,"x":1`)) }), kind: ErrUnauthenticated, reason: "no v1 signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := in.Check(tt.req)
			if tt.kind == nil {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("Check (-want +got):\n%s", diff)
				}
				return
			}
			checkReason(t, err, tt.kind, tt.reason)
		})
	}
}

func TestUnconfigured(t *testing.T) {
	tests := []struct {
		name string
		s    Settings
		want []Provider
	}{
		{"nothing", Settings{}, []Provider{FirstPromoter, AgentRef}},
		{"firstpromoter token only", Settings{FirstPromoter: FirstPromoterAuth{Token: fpToken}}, []Provider{AgentRef}},
		{"firstpromoter basic only", Settings{FirstPromoter: FirstPromoterAuth{BasicAuth: "relay:" + fpPassword}}, []Provider{AgentRef}},
		{"agentref only", Settings{AgentRef: AgentRefAuth{Secrets: []string{vectorSecret}}}, []Provider{FirstPromoter}},
		{"both", Settings{FirstPromoter: FirstPromoterAuth{Secrets: []string{fpSecret}}, AgentRef: AgentRefAuth{Secrets: []string{vectorSecret}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := New(tt.s, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, in.Unconfigured()); diff != "" {
				t.Errorf("Unconfigured (-want +got):\n%s", diff)
			}
		})
	}
}

func fpCommission(eventType, changes, data string) string {
	return `{"event_id":"e1","event_type":"` + eventType + `","action":"updated","entity_type":"commission","entity_id":7,"changes":` + changes + `,"data":` + data + `,"timestamp":"2026-11-20T11:59:00Z"}`
}

func arEvent(eventType, data string) string {
	return `{"id":"msg_1","type":"` + eventType + `","schemaVersion":2,"createdAt":"2026-11-20T11:59:00Z","merchantId":"m1","environment":"production","data":` + data + `}`
}

// TestCheckRefusesWhatTheProcessorCannotUse: every field the processor
// decodes is checked, per event type, before the body is queued; the
// reason names the field.
func TestCheckRefusesWhatTheProcessorCannotUse(t *testing.T) {
	in := testIngest(t)
	const approved = `{"status":["pending","approved"]}`
	long := strings.Repeat("x", MaxIDLength+1)
	tests := []struct {
		name   string
		req    Request
		reason string
	}{
		{"firstpromoter id not a number", fpRequest(fpCommission("commission.updated", approved, `{"id":"x","status":"approved","amount":500,"unit":"points"}`)), "data.id must be a positive integer"},
		{"firstpromoter id missing", fpRequest(fpCommission("commission.created", `{}`, `{"status":"pending","amount":500,"unit":"points"}`)), "data.id must be a positive integer"},
		{"firstpromoter id null", fpRequest(fpCommission("commission.created", `{}`, `{"id":null,"amount":500}`)), "data.id must be a positive integer"},
		{"firstpromoter id zero", fpRequest(fpCommission("commission.created", `{}`, `{"id":0,"amount":500}`)), "data.id must be a positive integer"},
		{"firstpromoter id negative", fpRequest(fpCommission("commission.created", `{}`, `{"id":-7,"amount":500}`)), "data.id must be a positive integer"},
		{"firstpromoter id a fraction", fpRequest(fpCommission("commission.created", `{}`, `{"id":7.5,"amount":500}`)), "data.id must be a positive integer"},
		{"firstpromoter id in exponent form", fpRequest(fpCommission("commission.created", `{}`, `{"id":7e2,"amount":500}`)), "data.id must be a positive integer"},
		{"firstpromoter id beyond int64", fpRequest(fpCommission("commission.created", `{}`, `{"id":9223372036854775808,"amount":500}`)), "data.id must be a positive integer"},
		{"firstpromoter id a boolean", fpRequest(fpCommission("commission.created", `{}`, `{"id":true,"amount":500}`)), "data.id must be a positive integer"},
		{"firstpromoter id an empty string", fpRequest(fpCommission("commission.created", `{}`, `{"id":"","amount":500}`)), "data.id must be a positive integer"},
		{"firstpromoter id given twice, the first bad", fpRequest(fpCommission("commission.created", `{}`, `{"id":"x","id":7,"amount":500}`)), "data.id must be a positive integer"},
		{"firstpromoter id key in another case", fpRequest(fpCommission("commission.created", `{}`, `{"id":7,"ID":"x","amount":500}`)), "data.id must be a positive integer"},
		{"firstpromoter amount a word", fpRequest(fpCommission("commission.updated", approved, `{"id":7,"status":"approved","amount":"lots","unit":"points"}`)), "data.amount must be an integer"},
		{"firstpromoter amount a fraction", fpRequest(fpCommission("commission.created", `{}`, `{"id":7,"amount":2.5}`)), "data.amount must be an integer"},
		{"firstpromoter amount a numeric string", fpRequest(fpCommission("commission.created", `{}`, `{"id":7,"amount":"500"}`)), "data.amount must be an integer"},
		{"firstpromoter unit unknown", fpRequest(fpCommission("commission.created", `{}`, `{"id":7,"amount":500,"unit":"stars"}`)), "data.unit must be one of points, credits, free_months, mon_discount, discount_per, cash"},
		{"firstpromoter unit a number", fpRequest(fpCommission("commission.created", `{}`, `{"id":7,"amount":500,"unit":3}`)), "data.unit must be one of"},
		{"firstpromoter status a number", fpRequest(fpCommission("commission.created", `{}`, `{"id":7,"amount":500,"status":1}`)), "data.status must be a string"},
		{"firstpromoter test not a boolean", fpRequest(fpCommission("commission.created", `{}`, `{"id":7,"amount":500,"test":"yes"}`)), "data.test must be a boolean"},
		{"firstpromoter changes an array", fpRequest(fpCommission("commission.created", `[]`, `{"id":7,"amount":500}`)), "changes must be an object"},
		{"firstpromoter changes.status a string", fpRequest(fpCommission("commission.updated", `{"status":"approved"}`, `{"id":7,"amount":500}`)), "changes.status must be an array of 2 strings"},
		{"firstpromoter changes.status of numbers", fpRequest(fpCommission("commission.updated", `{"status":[1,2]}`, `{"id":7,"amount":500}`)), "changes.status must be an array of 2 strings"},
		{"firstpromoter changes.status of 1", fpRequest(fpCommission("commission.updated", `{"status":["approved"]}`, `{"id":7,"amount":500}`)), "changes.status must be an array of 2 strings"},
		{"firstpromoter changes.status of 3", fpRequest(fpCommission("commission.updated", `{"status":["pending","approved","denied"]}`, `{"id":7,"amount":500}`)), "changes.status must be an array of 2 strings"},
		{"firstpromoter changes.status of an array and a string", fpRequest(fpCommission("commission.updated", `{"status":[["pending"],"approved"]}`, `{"id":7}`)), "changes.status must be an array of 2 strings"},
		{"firstpromoter changes.status of an object and a string", fpRequest(fpCommission("commission.updated", `{"status":[{"a":"b,c"},"approved"]}`, `{"id":7}`)), "changes.status must be an array of 2 strings"},
		{"firstpromoter changes.status empty", fpRequest(fpCommission("commission.updated", `{"status":[]}`, `{"id":7}`)), "changes.status must be an array of 2 strings"},
		{"firstpromoter status given twice, the first bad", fpRequest(fpCommission("commission.created", `{}`, `{"id":7,"status":1,"status":"pending"}`)), "data.status must be a string"},
		{"firstpromoter referral a string", fpRequest(fpCommission("commission.created", `{}`, `{"id":7,"amount":500,"referral":"r1"}`)), "data.referral must be an object"},
		{"firstpromoter referral id not a number", fpRequest(fpCommission("commission.created", `{}`, `{"id":7,"amount":500,"referral":{"id":"r1"}}`)), "data.referral.id must be a positive integer"},
		{"firstpromoter referral uid a number", fpRequest(fpCommission("commission.created", `{}`, `{"id":7,"amount":500,"referral":{"id":3,"uid":42}}`)), "data.referral.uid must be a string"},
		{"firstpromoter denial with a bad id", fpRequest(fpCommission("commission.denied", `{}`, `{"id":"seven"}`)), "data.id must be a positive integer"},
		{"firstpromoter deletion with a bad id", fpRequest(fpCommission("commission.deleted", `{}`, `{"id":{}}`)), "data.id must be a positive integer"},

		{"agentref conversion id missing", arRequest(t, arEvent("conversion.created", `{"affiliateId":"a1","commissionAmount":250}`)), "data.id must be a non-empty string"},
		{"agentref conversion id a number", arRequest(t, arEvent("conversion.created", `{"id":5,"affiliateId":"a1","commissionAmount":250}`)), "data.id must be a non-empty string"},
		{"agentref conversion affiliateId missing", arRequest(t, arEvent("conversion.created", `{"id":"c1","commissionAmount":250}`)), "data.affiliateId must be a non-empty string"},
		{"agentref conversion affiliateId a number", arRequest(t, arEvent("conversion.refunded", `{"id":"c1","affiliateId":3,"commissionAmount":250}`)), "data.affiliateId must be a non-empty string"},
		{"agentref conversion without a commission", arRequest(t, arEvent("conversion.created", `{"id":"c1","affiliateId":"a1","amount":12900}`)), "data.commissionAmount or data.commission must be present"},
		{"agentref conversion commission null", arRequest(t, arEvent("conversion.created", `{"id":"c1","affiliateId":"a1","commissionAmount":null}`)), "data.commissionAmount or data.commission must be present"},
		{"agentref commissionAmount in dollars", arRequest(t, arEvent("conversion.created", `{"id":"c1","affiliateId":"a1","commissionAmount":25.8}`)), "data.commissionAmount must be an integer from 0 to 1000000000000"},
		{"agentref commissionAmount a string", arRequest(t, arEvent("conversion.created", `{"id":"c1","affiliateId":"a1","commissionAmount":"2580"}`)), "data.commissionAmount must be an integer from 0 to 1000000000000"},
		{"agentref commissionAmount negative", arRequest(t, arEvent("conversion.created", `{"id":"c1","affiliateId":"a1","commissionAmount":-1}`)), "data.commissionAmount must be an integer from 0 to 1000000000000"},
		{"agentref commission in dollars", arRequest(t, arEvent("conversion.refunded", `{"id":"c1","affiliateId":"a1","commission":25.8}`)), "data.commission must be an integer from 0 to 1000000000000"},
		{"agentref conversion currency a number", arRequest(t, arEvent("conversion.created", `{"id":"c1","affiliateId":"a1","commission":1,"currency":840}`)), "data.currency must be a string"},
		{"agentref conversion status a number", arRequest(t, arEvent("conversion.created", `{"id":"c1","affiliateId":"a1","commission":1,"status":0}`)), "data.status must be a string"},
		{"agentref affiliate.blocked without id", arRequest(t, arEvent("affiliate.blocked", `{"status":"blocked"}`)), "data.id must be a non-empty string"},
		{"agentref affiliate.unblocked id a number", arRequest(t, arEvent("affiliate.unblocked", `{"id":12}`)), "data.id must be a non-empty string"},
		{"agentref affiliate.blocked affiliateId a number", arRequest(t, arEvent("affiliate.blocked", `{"id":"a1","affiliateId":12}`)), "data.affiliateId must be a string"},
		{"agentref confirmed flag without affiliate", arRequest(t, arEvent("flag.resolved", `{"id":"f1","status":"confirmed"}`)), "data.affiliateId must be a non-empty string of at most 256 bytes when data.status is confirmed"},
		{"agentref flag without its resolution", arRequest(t, arEvent("flag.resolved", `{"id":"f1","affiliateId":"a1"}`)), "data.status must be a string naming the flag's resolution"},
		{"agentref flag status a boolean", arRequest(t, arEvent("flag.resolved", `{"id":"f1","affiliateId":"a1","status":true}`)), "data.status must be a string"},
		{"agentref flag id a number", arRequest(t, arEvent("flag.resolved", `{"id":1,"affiliateId":"a1","status":"dismissed"}`)), "data.id must be a string"},
		{"agentref payout without id", arRequest(t, arEvent("payout.completed", `{"affiliateId":"a1","amount":300}`)), "data.id must be a non-empty string"},
		{"agentref payout without affiliate", arRequest(t, arEvent("payout.completed", `{"id":"p1","amount":300}`)), "data.affiliateId must be a non-empty string"},
		{"agentref payout without amount", arRequest(t, arEvent("payout.failed", `{"id":"p1","affiliateId":"a1"}`)), "data.amount must be an integer from 0 to 1000000000000"},
		{"agentref payout amount in dollars", arRequest(t, arEvent("payout.completed", `{"id":"p1","affiliateId":"a1","amount":3.5}`)), "data.amount must be an integer from 0 to 1000000000000"},
		{"agentref payout amount negative", arRequest(t, arEvent("payout.completed", `{"id":"p1","affiliateId":"a1","amount":-300}`)), "data.amount must be an integer from 0 to 1000000000000"},
		{"agentref payout amount over the ledger's largest", arRequest(t, arEvent("payout.completed", `{"id":"p1","affiliateId":"a1","amount":1000000000001}`)), "data.amount must be an integer from 0 to 1000000000000"},
		{"agentref commission over the ledger's largest", arRequest(t, arEvent("conversion.created", `{"id":"c1","affiliateId":"a1","commissionAmount":9223372036854775807}`)), "data.commissionAmount must be an integer from 0 to 1000000000000"},
		{"firstpromoter amount over the ledger's largest", fpRequest(fpCommission("commission.created", `{}`, `{"id":7,"amount":1000000000001}`)), "data.amount must be an integer of at most 1000000000000"},
		{"agentref payout currency a number", arRequest(t, arEvent("payout.completed", `{"id":"p1","affiliateId":"a1","amount":300,"currency":1}`)), "data.currency must be a string"},

		{"firstpromoter event id over 256 bytes", fpRequest(strings.Replace(fpCommission("commission.created", `{}`, `{"id":7,"amount":500}`), `"e1"`, `"`+long+`"`, 1)), "event_id must be at most 256 bytes"},
		{"firstpromoter referral uid over 256 bytes", fpRequest(fpCommission("commission.created", `{}`, `{"id":7,"amount":500,"referral":{"id":3,"uid":"`+long+`"}}`)), "data.referral.uid must be a string of at most 256 bytes"},
		{"agentref event id over 256 bytes", arRequest(t, strings.Replace(arEvent("payout.created", `{}`), `"msg_1"`, `"`+long+`"`, 1)), "id must be at most 256 bytes"},
		{"agentref conversion id over 256 bytes", arRequest(t, arEvent("conversion.created", `{"id":"`+long+`","affiliateId":"a1","commission":1}`)), "data.id must be a non-empty string of at most 256 bytes"},
		{"agentref conversion affiliate over 256 bytes", arRequest(t, arEvent("conversion.created", `{"id":"c1","affiliateId":"`+long+`","commission":1}`)), "data.affiliateId must be a non-empty string of at most 256 bytes"},
		{"agentref conversion currency over 256 bytes", arRequest(t, arEvent("conversion.created", `{"id":"c1","affiliateId":"a1","commission":1,"currency":"`+long+`"}`)), "data.currency must be a string of at most 256 bytes"},
		{"agentref blocked affiliate over 256 bytes", arRequest(t, arEvent("affiliate.blocked", `{"id":"`+long+`"}`)), "data.id must be a non-empty string of at most 256 bytes"},
		{"agentref confirmed flag's affiliate over 256 bytes", arRequest(t, arEvent("flag.resolved", `{"id":"f1","affiliateId":"`+long+`","status":"confirmed"}`)), "data.affiliateId must be a non-empty string of at most 256 bytes"},
		{"agentref payout id over 256 bytes", arRequest(t, arEvent("payout.failed", `{"id":"`+long+`","affiliateId":"a1","amount":300}`)), "data.id must be a non-empty string of at most 256 bytes"},
		{"agentref payout affiliate over 256 bytes", arRequest(t, arEvent("payout.failed", `{"id":"p1","affiliateId":"`+long+`","amount":300}`)), "data.affiliateId must be a non-empty string of at most 256 bytes"},
		{"agentref payout currency over 256 bytes", arRequest(t, arEvent("payout.completed", `{"id":"p1","affiliateId":"a1","amount":300,"currency":"`+long+`"}`)), "data.currency must be a string of at most 256 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := in.Check(tt.req)
			checkReason(t, err, ErrMalformed, tt.reason)
		})
	}
}

// TestCheckQueuesWhatTheProcessorCanUse: what the processor decodes and
// uses is queued, in every form it accepts; fields it does not read are
// not checked.
func TestCheckQueuesWhatTheProcessorCanUse(t *testing.T) {
	in := testIngest(t)
	tests := []struct {
		name string
		req  Request
	}{
		{"firstpromoter id as a numeric string", fpRequest(fpCommission("commission.created", `{}`, `{"id":"7","amount":500,"unit":"points"}`))},
		{"firstpromoter largest id", fpRequest(fpCommission("commission.created", `{}`, `{"id":9223372036854775807}`))},
		{"firstpromoter null id before a good one", fpRequest(fpCommission("commission.created", `{}`, `{"id":null,"id":7}`))},
		{"firstpromoter without unit or amount (the platform's row has them)", fpRequest(fpCommission("commission.approved", `{}`, `{"id":7}`))},
		{"firstpromoter empty unit", fpRequest(fpCommission("commission.created", `{}`, `{"id":7,"unit":""}`))},
		{"firstpromoter cash unit", fpRequest(fpCommission("commission.created", `{}`, `{"id":7,"amount":-2500,"unit":"cash"}`))},
		{"firstpromoter nulls", fpRequest(fpCommission("commission.updated", `{"status":null}`, `{"id":7,"status":null,"amount":null,"unit":null,"referral":null}`))},
		{"firstpromoter changes null", fpRequest(fpCommission("commission.updated", `null`, `{"id":7}`))},
		{"firstpromoter changes.status with a null", fpRequest(fpCommission("commission.updated", `{"status":[null,"approved"]}`, `{"id":7}`))},
		{"firstpromoter changes.status with quotes, commas and spaces", fpRequest(fpCommission("commission.updated", `{"status": [ "pen\"d,ing" ,"approved\\" ] }`, `{"id":7}`))},
		{"firstpromoter other changes", fpRequest(fpCommission("commission.updated", `{"fraud_check":[null,"no_suspicion"],"amount":[400,500]}`, `{"id":7}`))},
		{"firstpromoter referral without id", fpRequest(fpCommission("commission.created", `{}`, `{"id":7,"referral":{"uid":"u-1","email":"x"}}`))},
		{"firstpromoter fields the processor does not read", fpRequest(fpCommission("commission.created", `{}`, `{"id":7,"created_at":5,"metadata":"x","sale_amount":12.5}`))},
		{"agentref data after spaces and a newline", arRequest(t, strings.Replace(arEvent("conversion.created", `{"id":"c1","affiliateId":"a1","commission":5}`), `"data":`, "\"data\" :\n\t ", 1))},
		{"agentref conversion with commission", arRequest(t, arEvent("conversion.created", `{"id":"c1","affiliateId":"a1","commission":0}`))},
		{"agentref conversion sale amount in dollars (not read)", arRequest(t, arEvent("conversion.refunded", `{"id":"c1","affiliateId":"a1","amount":129.5,"commissionAmount":2580,"status":"refunded"}`))},
		{"agentref affiliate.blocked", arRequest(t, arEvent("affiliate.blocked", `{"id":"a1","status":"blocked"}`))},
		{"agentref dismissed flag without affiliate", arRequest(t, arEvent("flag.resolved", `{"id":"f1","status":"dismissed"}`))},
		{"agentref confirmed flag", arRequest(t, arEvent("flag.resolved", `{"id":"f1","affiliateId":"a1","status":"confirmed"}`))},
		{"agentref payout", arRequest(t, arEvent("payout.completed", `{"id":"p1","affiliateId":"a1","amount":0}`))},
		{"agentref payout.created (data not read)", arRequest(t, arEvent("payout.created", `{"id":1,"amount":3.5}`))},
		{"agentref program.updated (data not read)", arRequest(t, arEvent("program.updated", `{"id":"prg","commissionPercent":12.5}`))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := in.Check(tt.req)
			if err != nil {
				t.Fatalf("Check: %v, want queued", err)
			}
			if r.Ignored != "" {
				t.Errorf("Check: ignored (%s), want queued", r.Reason)
			}
		})
	}
}

// TestCheckIgnoresBeforeReadingData: a delivery that is only acknowledged
// is not refused for data nobody will read.
func TestCheckIgnoresBeforeReadingData(t *testing.T) {
	in := testIngest(t)
	tests := []struct {
		name    string
		req     Request
		ignored string
	}{
		{"firstpromoter test delivery with nothing else", fpRequest(`{"data":{"test":true}}`), "test_delivery"},
		{"firstpromoter test delivery with an event id of the wrong type", fpRequest(`{"event_id":5,"data":{"test":true,"id":"x"}}`), "test_delivery"},
		{"firstpromoter unhandled type with other data", fpRequest(`{"event_id":"e","event_type":"promoter.updated","data":{"id":"p","amount":"x"}}`), "unhandled_event_type"},
		{"firstpromoter payout.updated (an echo of mark_fulfilled)", fpRequest(`{"event_id":"e","event_type":"payout.updated","entity_type":"payout","changes":{"status":["pending","completed"]},"data":{"id":12,"status":"completed","amount":25.5,"unit":"cash"}}`), "unhandled_event_type"},
		{"agentref other environment with bad data", arRequest(t, strings.Replace(arEvent("conversion.created", `{"id":5}`), "production", "preview", 1)), "other_environment"},
		{"agentref unhandled type", arRequest(t, arEvent("affiliate.joined", `{"id":5}`)), "unhandled_event_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := in.Check(tt.req)
			if err != nil {
				t.Fatalf("Check: %v, want ignored", err)
			}
			if r.Ignored != tt.ignored {
				t.Errorf("Check: ignored %q, want %q", r.Ignored, tt.ignored)
			}
		})
	}
}

// With AGENTREF_MERCHANT_ID set, a delivery for another merchant (or one
// naming none) is refused, and one for this merchant queued; unset, any
// merchant's delivery is queued.
func TestAgentRefMerchantPin(t *testing.T) {
	pinned := func(merchant string) *Ingest {
		in, err := New(Settings{AgentRef: AgentRefAuth{Secrets: []string{vectorSecret}, MerchantID: merchant}}, func() time.Time { return testNow })
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	other := strings.Replace(arBody(""), `"merchantId":"m1"`, `"merchantId":"m2"`, 1)
	none := strings.Replace(arBody(""), `"merchantId":"m1",`, "", 1)
	for _, tt := range []struct {
		name, merchant, body string
		refused              bool
	}{
		{"this merchant", "m1", arBody(""), false},
		{"another merchant", "m1", other, true},
		{"no merchant named", "m1", none, true},
		{"not pinned", "", other, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pinned(tt.merchant).Check(arRequest(t, tt.body))
			if refused := errors.Is(err, ErrUnauthenticated); refused != tt.refused || (err != nil && !refused) {
				t.Errorf("Check: %v; want refused %v", err, tt.refused)
			}
		})
	}
}
