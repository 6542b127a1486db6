package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/awstest"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

func TestBalancesJSONLines(t *testing.T) {
	var buf bytes.Buffer
	err := printBalances(&buf, []balanceLine{{Provider: "firstpromoter", Recipient: "promoter:123", Unit: "points", Available: 500, Fulfilled: 500}}, true)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"provider":"firstpromoter","recipient":"promoter:123","unit":"points","currency":"","pending":0,"available":500,"reversed":0,"fulfilled":500}` + "\n"
	if buf.String() != want {
		t.Errorf("got %s want %s", buf.String(), want)
	}
}

// TestSendSignsLikeThePlatforms checks send's requests against the same
// ingest the webhook function runs.
func TestSendSignsLikeThePlatforms(t *testing.T) {
	settings, err := loadLocalDefaults("../../events/env.json")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	in, err := webhook.New(func() webhook.Settings {
		s := webhook.Settings{}
		s.FirstPromoter.Secrets = splitList(settings.get("FIRSTPROMOTER_WEBHOOK_SECRETS"))
		s.AgentRef.Secrets = splitList(settings.get("AGENTREF_WEBHOOK_SECRETS"))
		return s
	}(), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	for _, sample := range []string{"../../events/firstpromoter-commission-approved.json", "../../events/agentref-conversion-created.json"} {
		body, p, err := readSample(sample, "")
		if err != nil {
			t.Fatal(err)
		}
		req, err := signedRequest("http://127.0.0.1:3000", p, body, settings.get, now)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(req.Body)
		header := webhook.Header{}
		for k := range req.Header {
			header[strings.ToLower(k)] = req.Header.Get(k)
		}
		if _, err := in.Check(webhook.Request{Method: req.Method, Provider: string(p), Header: header, Body: raw}); err != nil {
			t.Errorf("%s: the signed request is refused: %v", sample, err)
		}
	}
	if _, _, err := readSample("../../events/env.json", ""); err == nil {
		t.Error("a file that is no sample was accepted without --provider")
	}
}

func TestMissingTableIsReportedClearly(t *testing.T) {
	awstest.Require(t, awstest.DynamoDBEndpoint)
	t.Setenv("TABLE_NAME", "no-such-table")
	_, err := ledger(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no-such-table") || !strings.Contains(err.Error(), "missing table") {
		t.Errorf("got %v, want an error naming the table and its likely causes", err)
	}
}

func TestUnreachableEndpointIsReportedClearly(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:1")
	t.Setenv("TABLE_NAME", "ledger")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := ledger(ctx)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("got %v, want an error naming the endpoint", err)
	}
}
