package handler

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/rewardrelay/rewardrelay/shared/telemetry"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

const (
	fpSecret  = "5f2b7c1e9a0d4b8c6e3f1a2b7c9d0e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d"
	arSecret  = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	testEmail = "jane.buyer@example.com"
)

var testNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// fakeQueue records what it is sent; err makes every send fail.
type fakeQueue struct {
	mu   sync.Mutex
	sent []webhook.Delivery
	err  error
}

func (q *fakeQueue) Send(_ context.Context, d webhook.Delivery) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return q.err
	}
	q.sent = append(q.sent, d)
	return nil
}

type harness struct {
	h     Handler
	queue *fakeQueue
	logs  *bytes.Buffer
}

func newHarness(t *testing.T, s webhook.Settings) *harness {
	t.Helper()
	in, err := webhook.New(s, func() time.Time { return testNow })
	if err != nil {
		t.Fatal(err)
	}
	q, logs := &fakeQueue{}, &bytes.Buffer{}
	return &harness{
		h:     Handler{Ingest: in, Queue: q, Log: telemetry.NewLogger(logs, "DEBUG"), Now: func() time.Time { return testNow }},
		queue: q,
		logs:  logs,
	}
}

func bothConfigured() webhook.Settings {
	return webhook.Settings{
		FirstPromoter: webhook.FirstPromoterAuth{Secrets: []string{fpSecret}},
		AgentRef:      webhook.AgentRefAuth{Secrets: []string{arSecret}},
	}
}

func httpEvent(method, provider string, headers map[string]string, body string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       "POST /webhooks/{provider}",
		RawPath:        "/webhooks/" + provider,
		Headers:        headers,
		PathParameters: map[string]string{"provider": provider},
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: "/webhooks/" + provider}},
		Body:           body,
	}
}

const fpApproved = `{"event_id":"9b2f7c1e-0000-4000-8000-000000000001","event_type":"commission.updated","action":"updated","entity_type":"commission","entity_id":7,"changes":{"status":["pending","approved"]},"data":{"id":7,"status":"approved","amount":500,"unit":"points","referral":{"id":3,"email":"` + testEmail + `","uid":"u-3"}},"timestamp":"2026-11-20T11:59:00Z"}`

func fpEvent(body string) events.APIGatewayV2HTTPRequest {
	return httpEvent("POST", "firstpromoter", map[string]string{
		"content-type":        "application/json",
		"x-webhook-signature": webhook.SignFirstPromoter(fpSecret, []byte(body)),
	}, body)
}

const arCreated = `{"id":"msg_2bXk","type":"conversion.created","schemaVersion":2,"createdAt":"2026-11-20T11:59:00Z","merchantId":"m_1","programId":"p_1","environment":"production","data":{"id":"conv_1","affiliateId":"aff_1","amount":10000,"currency":"usd","commissionAmount":2000,"status":"pending"}}`

func arEvent(t *testing.T, body string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	return arEventAt(t, body, testNow.Unix())
}

// arEventAt is an AgentRef delivery signed at Unix time sec.
func arEventAt(t *testing.T, body string, sec int64) events.APIGatewayV2HTTPRequest {
	t.Helper()
	sig, err := webhook.SignAgentRef(arSecret, "msg_2bXk", sec, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return httpEvent("POST", "agentref", map[string]string{
		"content-type":   "application/json",
		"svix-id":        "msg_2bXk",
		"svix-timestamp": strconv.FormatInt(sec, 10),
		"svix-signature": sig,
	}, body)
}

func TestHandleStatuses(t *testing.T) {
	with := func(e events.APIGatewayV2HTTPRequest, f func(*events.APIGatewayV2HTTPRequest)) events.APIGatewayV2HTTPRequest {
		f(&e)
		return e
	}
	tests := []struct {
		name     string
		settings webhook.Settings
		queueErr error
		event    events.APIGatewayV2HTTPRequest
		status   int
		body     map[string]string
		queued   bool
	}{
		{name: "firstpromoter approved", event: fpEvent(fpApproved), status: 202, body: map[string]string{"status": "queued", "id": "9b2f7c1e-0000-4000-8000-000000000001"}, queued: true},
		{name: "agentref conversion", event: arEvent(t, arCreated), status: 202, body: map[string]string{"status": "queued", "id": "msg_2bXk"}, queued: true},
		{
			name: "base64 body",
			event: with(fpEvent(fpApproved), func(e *events.APIGatewayV2HTTPRequest) {
				e.Body, e.IsBase64Encoded = base64.StdEncoding.EncodeToString([]byte(fpApproved)), true
			}),
			status: 202, body: map[string]string{"status": "queued", "id": "9b2f7c1e-0000-4000-8000-000000000001"}, queued: true,
		},
		{
			name: "headers in canonical case (not lowercased by a proxy)",
			event: with(fpEvent(fpApproved), func(e *events.APIGatewayV2HTTPRequest) {
				e.Headers = map[string]string{"Content-Type": "application/json", "X-Webhook-Signature": e.Headers["x-webhook-signature"]}
			}),
			status: 202, body: map[string]string{"status": "queued", "id": "9b2f7c1e-0000-4000-8000-000000000001"}, queued: true,
		},
		{name: "test delivery", event: fpEvent(`{"event_id":"t1","event_type":"commission.created","data":{"test":true}}`), status: 200, body: map[string]string{"status": "ignored", "reason": "test delivery acknowledged; nothing applied"}},
		{name: "other environment", event: arEvent(t, strings.Replace(arCreated, "production", "development", 1)), status: 200, body: map[string]string{"status": "ignored", "reason": `environment "development" is not "production"; acknowledged`}},
		{name: "unhandled type", event: fpEvent(`{"event_id":"t2","event_type":"promoter.updated","data":{}}`), status: 200, body: map[string]string{"status": "ignored", "reason": `event type "promoter.updated" is not processed; acknowledged`}},
		{name: "malformed envelope", event: fpEvent(`{"event_id":"t3","data":{}}`), status: 400, body: map[string]string{"error": "event_type must be a non-empty string"}},
		{name: "test delivery with nothing else", event: fpEvent(`{"data":{"test":true}}`), status: 200, body: map[string]string{"status": "ignored", "reason": "test delivery acknowledged; nothing applied"}},
		{name: "firstpromoter commission id not a number", event: fpEvent(strings.Replace(fpApproved, `"id":7,`, `"id":"x",`, 1)), status: 400, body: map[string]string{"error": "data.id must be a positive integer"}},
		{name: "firstpromoter commission amount a word", event: fpEvent(strings.Replace(fpApproved, `"amount":500`, `"amount":"lots"`, 1)), status: 400, body: map[string]string{"error": "data.amount must be an integer of at most 1000000000000"}},
		{name: "agentref commission in dollars", event: arEvent(t, strings.Replace(arCreated, `"commissionAmount":2000`, `"commissionAmount":20.5`, 1)), status: 400, body: map[string]string{"error": "data.commissionAmount must be an integer from 0 to 1000000000000"}},
		{
			name: "bad base64",
			event: with(fpEvent(fpApproved), func(e *events.APIGatewayV2HTTPRequest) {
				e.Body, e.IsBase64Encoded = "%%%", true
			}),
			status: 400, body: map[string]string{"error": "body is marked base64 but is not valid base64"},
		},
		{
			name: "bad signature",
			event: with(fpEvent(fpApproved), func(e *events.APIGatewayV2HTTPRequest) {
				e.Headers["x-webhook-signature"] = webhook.SignFirstPromoter("another-secret", []byte(fpApproved))
			}),
			status: 401, body: map[string]string{"error": "X-Webhook-Signature does not match any configured signing secret"},
		},
		{
			name:   "agentref signature of 44 characters without padding",
			event:  with(arEvent(t, arCreated), func(e *events.APIGatewayV2HTTPRequest) { e.Headers["svix-signature"] = "v1," + strings.Repeat("A", 44) }),
			status: 401, body: map[string]string{"error": "svix-signature has no v1 signature that matches a configured secret"},
		},
		{name: "agentref signed in the year 5138", event: arEventAt(t, arCreated, 99999999999), status: 401, body: map[string]string{"error": "svix-timestamp is 98204823999s in the future; check the sender's clock"}},
		{name: "nothing configured", settings: webhook.Settings{}, event: fpEvent(fpApproved), status: 401, body: map[string]string{"error": "no authentication is configured for firstpromoter deliveries: set FIRSTPROMOTER_WEBHOOK_SECRETS, FIRSTPROMOTER_WEBHOOK_TOKEN or FIRSTPROMOTER_WEBHOOK_BASIC_AUTH"}},
		{name: "unknown provider", event: with(fpEvent(fpApproved), func(e *events.APIGatewayV2HTTPRequest) { e.PathParameters["provider"] = "tapfiliate" }), status: 404, body: map[string]string{"error": `unknown provider "tapfiliate"; use /webhooks/firstpromoter or /webhooks/agentref`}},
		{name: "GET", event: with(fpEvent(fpApproved), func(e *events.APIGatewayV2HTTPRequest) { e.RequestContext.HTTP.Method = "GET" }), status: 405, body: map[string]string{"error": `method "GET" is not allowed; deliveries are POST`}},
		{name: "too large", event: fpEvent(`{"event_id":"` + strings.Repeat("x", webhook.MaxBody) + `"}`), status: 413, body: map[string]string{"error": "body is 262159 bytes; the limit is 262144"}},
		{name: "not JSON", event: with(fpEvent(fpApproved), func(e *events.APIGatewayV2HTTPRequest) { e.Headers["content-type"] = "text/plain" }), status: 415, body: map[string]string{"error": `Content-Type "text/plain" is not JSON; send application/json`}},
		{name: "queue down", queueErr: errors.New("dial tcp: connection refused"), event: fpEvent(fpApproved), status: 503, body: map[string]string{"error": "the queue is unavailable; the delivery was not accepted, retry later"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.settings
			if tt.name != "nothing configured" {
				s = bothConfigured()
			}
			hs := newHarness(t, s)
			hs.queue.err = tt.queueErr
			resp, err := hs.h.Handle(t.Context(), tt.event)
			if err != nil {
				t.Fatalf("Handle returned error %v; it must always answer", err)
			}
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d (body %s)", resp.StatusCode, tt.status, resp.Body)
			}
			if got := resp.Headers["content-type"]; got != "application/json" {
				t.Errorf("content-type %q, want application/json", got)
			}
			var body map[string]string
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
				t.Fatalf("body %q is not a JSON object of strings: %v", resp.Body, err)
			}
			if diff := cmp.Diff(tt.body, body); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if got := len(hs.queue.sent); tt.queued != (got == 1) || got > 1 {
				t.Errorf("queued %d messages, want queued=%v", got, tt.queued)
			}
			if tt.queued {
				d := hs.queue.sent[0]
				raw := tt.event.Body
				if tt.event.IsBase64Encoded {
					b, _ := base64.StdEncoding.DecodeString(raw)
					raw = string(b)
				}
				if string(d.Body) != raw {
					t.Errorf("queued body differs from the raw body")
				}
				if !d.ReceivedAt.Equal(testNow) || d.EventID != body["id"] || d.EventType == "" {
					t.Errorf("queued delivery attributes %+v", d)
				}
			}
			checkLogLine(t, hs.logs.String(), tt.status)
		})
	}
}

// checkLogLine asserts one request line that carries its outcome and EMF
// metadata and nothing secret or personal.
func checkLogLine(t *testing.T, logs string, status int) {
	t.Helper()
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		if m["msg"] == "webhook" {
			if line != nil {
				t.Fatalf("more than one request line:\n%s", logs)
			}
			line = m
		}
	}
	if line == nil {
		t.Fatalf("no request line in:\n%s", logs)
	}
	if got := line["status"]; got != float64(status) {
		t.Errorf("logged status %v, want %d", got, status)
	}
	for _, field := range []string{"provider", "outcome", "latency_ms", "_aws", "Webhooks"} {
		if _, ok := line[field]; !ok {
			t.Errorf("log line lacks %q: %v", field, line)
		}
	}
	if status >= 300 || line["outcome"] == "ignored" {
		if _, ok := line["code"]; !ok {
			t.Errorf("log line of a refusal lacks its code: %v", line)
		}
	}
	for _, leak := range []string{fpSecret, strings.TrimPrefix(arSecret, "whsec_"), testEmail, "v1,", `\"data\"`} {
		if strings.Contains(logs, leak) {
			t.Errorf("logs contain %q:\n%s", leak, logs)
		}
	}
}

func TestHandleLogsNoSignature(t *testing.T) {
	hs := newHarness(t, bothConfigured())
	e := fpEvent(fpApproved)
	e.Headers["x-webhook-signature"] = webhook.SignFirstPromoter("wrong", []byte(fpApproved))
	if _, err := hs.h.Handle(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(hs.logs.String(), e.Headers["x-webhook-signature"]) {
		t.Errorf("logs contain the presented signature:\n%s", hs.logs)
	}
}

func TestHandleMetricDimensionsStayBounded(t *testing.T) {
	hs := newHarness(t, bothConfigured())
	e := fpEvent(fpApproved)
	e.PathParameters["provider"] = "attacker-chosen-" + strings.Repeat("x", 10)
	if _, err := hs.h.Handle(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	if err := json.Unmarshal(hs.logs.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line["provider"] != "unknown" {
		t.Errorf("provider field %q, want \"unknown\" for an unknown path", line["provider"])
	}
}

func discardLogger() *slog.Logger { return telemetry.NewLogger(io.Discard, "") }
