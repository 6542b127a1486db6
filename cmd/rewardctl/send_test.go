package main

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/cmd/rewardctl/internal/localstack"
	webhookhandler "github.com/rewardrelay/rewardrelay/functions/webhook/handler"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

// TestSendKeepsSamplesMeantToFailFailing: send signs a sample like its
// platform, now, unless the sample carries credentials of its own that do
// not hold (the bad-signature samples): those go as they are, and the
// webhook function refuses them.
func TestSendKeepsSamplesMeantToFailFailing(t *testing.T) {
	settings, err := localstack.LoadSettings("../../events/env.json")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	in, err := webhook.New(webhookhandler.Settings(settings.Get), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		sample  string
		refused bool
	}{
		{"firstpromoter-commission-approved.json", false},
		{"firstpromoter-commission-created.json", false},
		{"agentref-conversion-created.json", false},
		{"firstpromoter-bad-signature.json", true},
		{"agentref-bad-signature.json", true},
	} {
		t.Run(tt.sample, func(t *testing.T) {
			s, err := readSample("../../events/"+tt.sample, "")
			if err != nil {
				t.Fatal(err)
			}
			req, asIs, err := s.request("http://127.0.0.1:3000", settings.Get, now)
			if err != nil {
				t.Fatal(err)
			}
			if asIs != tt.refused {
				t.Errorf("sent as it is: %v, want %v", asIs, tt.refused)
			}
			raw, _ := io.ReadAll(req.Body)
			header := webhook.Header{}
			for k := range req.Header {
				header[strings.ToLower(k)] = req.Header.Get(k)
			}
			_, err = in.Check(webhook.Request{Method: req.Method, Provider: string(s.provider), Header: header, Body: raw})
			switch {
			case tt.refused && (!errors.Is(err, webhook.ErrUnauthenticated) || !strings.Contains(err.Error(), "does not match") && !strings.Contains(err.Error(), "no v1 signature")):
				t.Errorf("the webhook function answers %v, want a refusal for its signature", err)
			case !tt.refused && err != nil:
				t.Errorf("the signed sample is refused: %v", err)
			}
		})
	}
}
