package webhook

import (
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
	return `{"id":"msg_1","type":"conversion.created","schemaVersion":2,"createdAt":"2026-11-20T11:59:00Z","merchantId":"m1","environment":"production","data":{"id":"c1"}` + fields + `}`
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
			req: with(fpRequest(`{"event_id":"e1","event_type":"commission.created","data":{}}`), func(r *Request) {
				delete(r.Header, "content-type")
				r.Header["Content-Type"] = "Application/JSON; charset=utf-8"
			}),
			want: Result{Provider: FirstPromoter, EventID: "e1", EventType: "commission.created"},
		},
		{
			name: "vendor +json type",
			req:  with(fpRequest(`{"event_id":"e1","event_type":"commission.created","data":{}}`), func(r *Request) { r.Header["content-type"] = "application/vnd.firstpromoter+json" }),
			want: Result{Provider: FirstPromoter, EventID: "e1", EventType: "commission.created"},
		},
		{name: "authentication before parsing", req: with(fpRequest(`not json`), func(r *Request) { r.Header["x-webhook-signature"] = strings.Repeat("0", 64) }), kind: ErrUnauthenticated, reason: "does not match"},
		{name: "not JSON", req: fpRequest(`{"event_id":`), kind: ErrMalformed, reason: "body is not valid JSON"},
		{name: "trailing garbage", req: fpRequest(`{"event_id":"e","event_type":"commission.created","data":{}} x`), kind: ErrMalformed, reason: "body is not valid JSON (error at byte"},
		{name: "JSON array", req: fpRequest(`[1,2]`), kind: ErrMalformed, reason: "body is a JSON array; an object is expected"},
		{name: "invalid UTF-8", req: fpRequest("{\"event_id\":\"\xff\"}"), kind: ErrMalformed, reason: "not valid UTF-8"},
		{name: "U+FFFF", req: fpRequest("{\"event_id\":\"\uffff\"}"), kind: ErrMalformed, reason: "U+FFFE or U+FFFF"},
		{name: "firstpromoter event_id missing", req: fpRequest(`{"event_type":"commission.created","data":{}}`), kind: ErrMalformed, reason: "event_id is missing"},
		{name: "firstpromoter event_id a number", req: fpRequest(`{"event_id":5,"event_type":"commission.created","data":{}}`), kind: ErrMalformed, reason: "field event_id is a JSON number; expected a string"},
		{name: "firstpromoter event_type missing", req: fpRequest(`{"event_id":"e","data":{}}`), kind: ErrMalformed, reason: "event_type is missing"},
		{name: "firstpromoter data missing", req: fpRequest(`{"event_id":"e","event_type":"commission.created"}`), kind: ErrMalformed, reason: "data is missing"},
		{name: "firstpromoter data null", req: fpRequest(`{"event_id":"e","event_type":"commission.created","data":null}`), kind: ErrMalformed, reason: "data is missing or null"},
		{name: "firstpromoter data a string", req: fpRequest(`{"event_id":"e","event_type":"commission.created","data":"x"}`), kind: ErrMalformed, reason: "field data is a JSON string; expected an object"},
		{name: "agentref id missing", req: arRequest(t, strings.Replace(arBody(""), `"id":"msg_1",`, "", 1)), kind: ErrMalformed, reason: "id is missing"},
		{name: "agentref type missing", req: arRequest(t, strings.Replace(arBody(""), `"type":"conversion.created",`, "", 1)), kind: ErrMalformed, reason: "type is missing"},
		{name: "agentref schemaVersion missing", req: arRequest(t, strings.Replace(arBody(""), `"schemaVersion":2,`, "", 1)), kind: ErrMalformed, reason: "schemaVersion is missing"},
		{name: "agentref schemaVersion 1", req: arRequest(t, strings.Replace(arBody(""), `"schemaVersion":2`, `"schemaVersion":1`, 1)), kind: ErrMalformed, reason: "schemaVersion 1 is not supported"},
		{name: "agentref schemaVersion a string", req: arRequest(t, strings.Replace(arBody(""), `"schemaVersion":2`, `"schemaVersion":"2"`, 1)), kind: ErrMalformed, reason: "field schemaVersion is a JSON string; expected a number"},
		{name: "agentref createdAt missing", req: arRequest(t, strings.Replace(arBody(""), `"createdAt":"2026-11-20T11:59:00Z",`, "", 1)), kind: ErrMalformed, reason: "createdAt is missing"},
		{name: "agentref createdAt not a time", req: arRequest(t, strings.Replace(arBody(""), `2026-11-20T11:59:00Z`, `yesterday`, 1)), kind: ErrMalformed, reason: "createdAt is not an ISO 8601"},
		{name: "agentref environment missing", req: arRequest(t, strings.Replace(arBody(""), `"environment":"production",`, "", 1)), kind: ErrMalformed, reason: "environment is missing"},
		{name: "agentref data missing", req: arRequest(t, strings.Replace(arBody(""), `,"data":{"id":"c1"}`, "", 1)), kind: ErrMalformed, reason: "data is missing"},
		{name: "agentref data an array", req: arRequest(t, strings.Replace(arBody(""), `{"id":"c1"}`, `[]`, 1)), kind: ErrMalformed, reason: "field data is a JSON array; expected an object"},
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
