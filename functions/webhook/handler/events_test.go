package handler

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

var update = flag.Bool("update", false, "rewrite the samples in events/ from their specs")

// eventsDir holds the sam local invoke samples.
const eventsDir = "../../../events"

// sampleTime is when every sample was signed; replaying them uses this clock.
var sampleTime = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// sample is one file of events/: how it is made and how the function answers it.
type sample struct {
	file     string
	provider string
	body     string
	// signWith overrides the signing secret (a wrong one makes a bad signature).
	signWith string
	status   int
}

var samples = []sample{
	{
		file: "firstpromoter-commission-created.json", provider: "firstpromoter", status: 202,
		body: `{"event_id":"0b7f6a0e-5d1c-4c1e-9a51-3f2d6c9b0a01","event_type":"commission.created","action":"created","entity_type":"commission","entity_id":41001,"changes":{},"data":{"id":41001,"status":"pending","amount":500,"unit":"points","referral":{"id":9001,"email":"referred.customer@example.com","uid":"cust-9001"},"created_at":"2026-11-20T11:58:00Z"},"timestamp":"2026-11-20T11:58:00Z"}`,
	},
	{
		file: "firstpromoter-commission-approved.json", provider: "firstpromoter", status: 202,
		body: `{"event_id":"0b7f6a0e-5d1c-4c1e-9a51-3f2d6c9b0a02","event_type":"commission.updated","action":"updated","entity_type":"commission","entity_id":41001,"changes":{"status":["pending","approved"]},"data":{"id":41001,"status":"approved","amount":500,"unit":"points","referral":{"id":9001,"email":"referred.customer@example.com","uid":"cust-9001"},"created_at":"2026-11-20T11:58:00Z"},"timestamp":"2026-11-20T11:59:30Z"}`,
	},
	{
		file: "firstpromoter-test-delivery.json", provider: "firstpromoter", status: 200,
		body: `{"event_id":"0b7f6a0e-5d1c-4c1e-9a51-3f2d6c9b0a03","event_type":"commission.created","action":"created","entity_type":"commission","entity_id":0,"changes":{},"data":{"test":true},"timestamp":"2026-11-20T11:59:00Z"}`,
	},
	{
		file: "firstpromoter-bad-signature.json", provider: "firstpromoter", status: 401, signWith: "not-the-subscription-secret",
		body: `{"event_id":"0b7f6a0e-5d1c-4c1e-9a51-3f2d6c9b0a04","event_type":"commission.updated","action":"updated","entity_type":"commission","entity_id":41001,"changes":{"status":["pending","approved"]},"data":{"id":41001,"status":"approved","amount":500,"unit":"points"},"timestamp":"2026-11-20T11:59:30Z"}`,
	},
	{
		file: "agentref-conversion-created.json", provider: "agentref", status: 202,
		body: `{"id":"msg_2kq8ZrV1d7nR3xYc","type":"conversion.created","schemaVersion":2,"createdAt":"2026-11-20T11:59:50Z","merchantId":"mer_7Hq2","programId":"prg_4Lm9","environment":"production","data":{"id":"conv_81Jd","affiliateId":"aff_3Xp0","amount":12900,"currency":"usd","commissionAmount":2580,"status":"pending"}}`,
	},
	{
		file: "agentref-bad-signature.json", provider: "agentref", status: 401, signWith: "whsec_bm90LXRoZS1wcm9ncmFtLXNlY3JldA==",
		body: `{"id":"msg_2kq8ZrV1d7nR3xYd","type":"conversion.created","schemaVersion":2,"createdAt":"2026-11-20T11:59:50Z","merchantId":"mer_7Hq2","programId":"prg_4Lm9","environment":"production","data":{"id":"conv_81Je","affiliateId":"aff_3Xp0","amount":12900,"currency":"usd","commissionAmount":2580,"status":"pending"}}`,
	},
}

// localEnv is events/env.json: the variables sam local invoke passes.
func localEnv(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(eventsDir, "env.json"))
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]map[string]string
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatalf("events/env.json: %v", err)
	}
	if env["WebhookFunction"] == nil {
		t.Fatal("events/env.json has no WebhookFunction section")
	}
	return env["WebhookFunction"]
}

func (s sample) event(t *testing.T, env map[string]string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	headers := map[string]string{
		"content-type":    "application/json",
		"content-length":  strconv.Itoa(len(s.body)),
		"host":            "abc123def4.execute-api.eu-west-1.amazonaws.com",
		"user-agent":      s.provider + "-webhooks/2.0",
		"x-forwarded-for": "203.0.113.10",
	}
	switch s.provider {
	case "firstpromoter":
		secret := List(env["FIRSTPROMOTER_WEBHOOK_SECRETS"])[0]
		if s.signWith != "" {
			secret = s.signWith
		}
		var env struct {
			EventID   string `json:"event_id"`
			EventType string `json:"event_type"`
		}
		if err := json.Unmarshal([]byte(s.body), &env); err != nil {
			t.Fatal(err)
		}
		headers["x-webhook-signature"] = webhook.SignFirstPromoter(secret, []byte(s.body))
		headers["x-event-id"], headers["x-event-type"] = env.EventID, env.EventType
	case "agentref":
		secret := List(env["AGENTREF_WEBHOOK_SECRETS"])[0]
		if s.signWith != "" {
			secret = s.signWith
		}
		var env struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal([]byte(s.body), &env); err != nil {
			t.Fatal(err)
		}
		sig, err := webhook.SignAgentRef(secret, env.ID, sampleTime.Unix(), []byte(s.body))
		if err != nil {
			t.Fatal(err)
		}
		headers["svix-id"], headers["svix-timestamp"], headers["svix-signature"] = env.ID, strconv.FormatInt(sampleTime.Unix(), 10), sig
	}
	path := "/webhooks/" + s.provider
	return events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       "POST /webhooks/{provider}",
		RawPath:        path,
		Headers:        headers,
		PathParameters: map[string]string{"provider": s.provider},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     "POST /webhooks/{provider}",
			AccountID:    "123456789012",
			Stage:        "$default",
			RequestID:    "Ab1CdEfGhIjKlMn=",
			APIID:        "abc123def4",
			DomainName:   "abc123def4.execute-api.eu-west-1.amazonaws.com",
			DomainPrefix: "abc123def4",
			Time:         sampleTime.Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    sampleTime.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: "POST", Path: path, Protocol: "HTTP/1.1", SourceIP: "203.0.113.10", UserAgent: s.provider + "-webhooks/2.0",
			},
		},
		Body: s.body,
	}
}

// TestSampleEvents keeps events/ in step with the specs above; run with
// -update to rewrite the files.
func TestSampleEvents(t *testing.T) {
	env := localEnv(t)
	known := map[string]bool{"env.json": true}
	for _, s := range samples {
		known[s.file] = true
		want, err := json.MarshalIndent(s.event(t, env), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, '\n')
		path := filepath.Join(eventsDir, s.file)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestSampleEvents -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("events/%s is out of date: run go test ./functions/webhook/handler -run TestSampleEvents -update", s.file)
		}
	}
	entries, err := os.ReadDir(eventsDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		// sqs-*.json, schedule-*.json, rewards-*.json and dynamodb-*.json
		// belong to the processor, the reconciler, the Rewards API and the
		// events function, whose tests replay them.
		if strings.HasSuffix(e.Name(), ".json") && !strings.HasPrefix(e.Name(), "sqs-") && !strings.HasPrefix(e.Name(), "schedule-") && !strings.HasPrefix(e.Name(), "rewards-") && !strings.HasPrefix(e.Name(), "dynamodb-") && !known[e.Name()] {
			t.Errorf("events/%s has no spec here, so nothing checks it", e.Name())
		}
	}
}

// TestReplaySamples decodes every committed sample into the real
// aws-lambda-go type and runs it through the handler with the settings of
// events/env.json.
func TestReplaySamples(t *testing.T) {
	env := localEnv(t)
	in, err := webhook.New(Settings(func(k string) string { return env[k] }), func() time.Time { return sampleTime })
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range samples {
		t.Run(s.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(eventsDir, s.file))
			if err != nil {
				t.Fatal(err)
			}
			var e events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatalf("decode: %v", err)
			}
			q := &fakeQueue{}
			h := Handler{Ingest: in, Queue: q, Log: discardLogger(), Now: func() time.Time { return sampleTime }}
			resp, err := h.Handle(t.Context(), e)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != s.status {
				t.Errorf("status %d, want %d (%s)", resp.StatusCode, s.status, resp.Body)
			}
			if queued := len(q.sent) == 1; queued != (s.status == 202) {
				t.Errorf("queued %d messages for status %d", len(q.sent), s.status)
			}
		})
	}
}
