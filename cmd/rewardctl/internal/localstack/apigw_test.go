package localstack

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
)

func TestAPIGatewayTranslatesLikeHTTPAPI(t *testing.T) {
	var got events.APIGatewayV2HTTPRequest
	g := &apiGateway{now: time.Now, routes: []route{newRoute("POST /webhooks/{provider}", func(_ context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		got = e
		return events.APIGatewayV2HTTPResponse{StatusCode: 202, Headers: map[string]string{"content-type": "application/json"}, Body: `{"status":"queued"}`}, nil
	})}}
	srv := httptest.NewServer(g)
	defer srv.Close()

	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        []byte
		status      int
		b64         bool
	}{
		{"json body as text", "POST", "/webhooks/agentref?x=1", "application/json; charset=utf-8", []byte(`{"a":1}`), 202, false},
		{"binary body as base64", "POST", "/webhooks/firstpromoter", "application/octet-stream", []byte{0, 1, 2, 0xff}, 202, true},
		{"no route for GET", "GET", "/webhooks/agentref", "", nil, 404, false},
		{"no route for another path", "POST", "/hooks/agentref", "application/json", []byte(`{}`), 404, false},
		{"empty path parameter", "POST", "/webhooks/", "application/json", []byte(`{}`), 404, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = events.APIGatewayV2HTTPRequest{}
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, bytes.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			req.Header.Add("X-Webhook-Signature", "abc")
			req.Header.Add("X-Multi", "a")
			req.Header.Add("X-Multi", "b")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status != 202 {
				return
			}
			if got.RouteKey != "POST /webhooks/{provider}" || got.RawPath != "/webhooks/"+got.PathParameters["provider"] || got.RequestContext.HTTP.Method != "POST" {
				t.Errorf("event routing fields: %+v", got)
			}
			if got.Headers["x-webhook-signature"] != "abc" || got.Headers["x-multi"] != "a,b" {
				t.Errorf("headers not lowercased and joined: %v", got.Headers)
			}
			if got.IsBase64Encoded != tt.b64 {
				t.Errorf("isBase64Encoded %v, want %v", got.IsBase64Encoded, tt.b64)
			}
			body := []byte(got.Body)
			if tt.b64 {
				body, _ = base64.StdEncoding.DecodeString(got.Body)
			}
			if diff := cmp.Diff(tt.body, body); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScheduleRate(t *testing.T) {
	for expr, want := range map[string]time.Duration{"rate(5 minutes)": 5 * time.Minute, "rate(1 minute)": time.Minute, "rate(2 hours)": 2 * time.Hour, "rate(1 day)": 24 * time.Hour} {
		if got, err := scheduleRate(expr); err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", expr, got, err, want)
		}
	}
	for _, bad := range []string{"cron(0 12 * * ? *)", "rate(0 minutes)", "rate(5 weeks)"} {
		if _, err := scheduleRate(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
