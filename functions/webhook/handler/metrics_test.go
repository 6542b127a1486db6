package handler

import (
	"bytes"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/rewardrelay/rewardrelay/shared/telemetry"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

// TestEveryDeliveryIsAValidMetricRecordAtEveryLogLevel: accepted, ignored
// and refused deliveries each write one EMF record, whatever the level, so
// the alarms on them never go silent.
func TestEveryDeliveryIsAValidMetricRecordAtEveryLogLevel(t *testing.T) {
	deliveries := []struct {
		event   events.APIGatewayV2HTTPRequest
		outcome string
	}{
		{fpEvent(fpApproved), "accepted"},
		{arEvent(t, arCreated), "accepted"},
		{fpEvent(`{"event_id":"t1","event_type":"commission.created","data":{"test":true}}`), "ignored"},
		{httpEvent("POST", "firstpromoter", map[string]string{"content-type": "application/json", "x-webhook-signature": "00"}, fpApproved), "rejected"},
		{httpEvent("POST", "tapfiliate", map[string]string{"content-type": "application/json"}, fpApproved), "rejected"},
	}
	for _, level := range []string{"DEBUG", "INFO", "WARN", "ERROR"} {
		t.Run(level, func(t *testing.T) {
			in, err := webhook.New(bothConfigured(), func() time.Time { return testNow })
			if err != nil {
				t.Fatal(err)
			}
			logs := &bytes.Buffer{}
			h := Handler{Ingest: in, Queue: &fakeQueue{}, Log: telemetry.New(logs, telemetry.Options{Level: level, Stack: "rewardrelay-prod"}), Now: func() time.Time { return testNow }}
			for _, d := range deliveries {
				if _, err := h.Handle(t.Context(), d.event); err != nil {
					t.Fatal(err)
				}
			}
			recs, errs := telemetry.Records(logs.Bytes())
			for _, err := range errs {
				t.Error(err)
			}
			var got []string
			for _, r := range recs {
				got = append(got, r["outcome"].(string)+" "+r["stack"].(string))
			}
			var want []string
			for _, d := range deliveries {
				want = append(want, d.outcome+" rewardrelay-prod")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("metric records (-want +got):\n%s", diff)
			}
		})
	}
}
