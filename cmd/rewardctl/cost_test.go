package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/rewardrelay/rewardrelay/cmd/rewardctl/internal/localstack"
	eventshandler "github.com/rewardrelay/rewardrelay/functions/events/handler"
	processorhandler "github.com/rewardrelay/rewardrelay/functions/processor/handler"
	reconcilerhandler "github.com/rewardrelay/rewardrelay/functions/reconciler/handler"
	rewardshandler "github.com/rewardrelay/rewardrelay/functions/rewards/handler"
	webhookhandler "github.com/rewardrelay/rewardrelay/functions/webhook/handler"
	"github.com/rewardrelay/rewardrelay/shared/announce"
	"github.com/rewardrelay/rewardrelay/shared/bus"
	"github.com/rewardrelay/rewardrelay/shared/fake"
	"github.com/rewardrelay/rewardrelay/shared/firstpromoter"
	"github.com/rewardrelay/rewardrelay/shared/relay"
	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/stack"
	"github.com/rewardrelay/rewardrelay/shared/telemetry"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
	"github.com/rewardrelay/rewardrelay/shared/wiring"
)

type discardQueue struct{}

func (discardQueue) Send(context.Context, webhook.Delivery) error { return nil }

// acceptingBus takes every event in one PutEvents request.
type acceptingBus struct{}

func (acceptingBus) Publish(_ context.Context, evs []bus.Event) ([]error, bus.Stats) {
	return make([]error, len(evs)), bus.Stats{Requests: 1}
}

type oneRun struct{ run reward.Run }

func (r oneRun) Run(context.Context) reward.Run { return r.run }

// inLambda is a context like Lambda's, whose request id the lines carry.
func inLambda(ctx context.Context) context.Context {
	return lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa"})
}

// functionLines are the log lines the functions write for the samples in
// events/, as Lambda would store them.
type functionLines struct {
	webhook    []string // one accepted FirstPromoter delivery
	events     []string // the processor's lines besides the batch line
	deliveries int      // the processor's batch
	batch      string   // the processor's batch line
	reconciler string   // a run summary
	stream     string   // the events function's line for a stream batch
	rewards    string   // a Rewards API request's line
}

func writeLines(t *testing.T) functionLines {
	t.Helper()
	var out functionLines
	settings, err := localstack.LoadSettings("../../events/env.json")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := telemetry.New(&logs, telemetry.Options{Stack: "rewardrelay-prod"})
	lines := func() []string {
		defer logs.Reset()
		return strings.Split(strings.TrimSpace(logs.String()), "\n")
	}
	in, err := webhook.New(webhookhandler.Settings(settings.Get), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	var req events.APIGatewayV2HTTPRequest
	readJSON(t, "../../events/firstpromoter-commission-approved.json", &req)
	wh := webhookhandler.Handler{Ingest: in, Queue: discardQueue{}, Log: log, Now: time.Now}
	if resp, _ := wh.Handle(inLambda(t.Context()), req); resp.StatusCode != 202 {
		t.Fatalf("sample answered %d", resp.StatusCode)
	}
	out.webhook = lines()

	var batch events.SQSEvent
	readJSON(t, "../../events/sqs-agentref-batch.json", &batch)
	out.deliveries = len(batch.Records)
	ph := processorhandler.Handler{Processor: &relay.Processor{Store: fake.NewStore(), Platforms: wiring.Platforms(firstpromoter.DefaultRules(), nil), Config: relay.DefaultConfig(), Log: log, Now: time.Now}, Log: log, Now: time.Now, Answers: &telemetry.Answers{}}
	if _, err := ph.Handle(inLambda(t.Context()), batch); err != nil {
		t.Fatal(err)
	}
	for _, line := range lines() {
		if strings.Contains(line, `"msg":"batch"`) {
			out.batch = line
		} else {
			out.events = append(out.events, line)
		}
	}

	started := time.Now()
	rh := reconcilerhandler.Handler{Log: log, Answers: &telemetry.Answers{}, Reconciler: oneRun{reward.Run{ID: "r", Started: started, Finished: started.Add(time.Second), Complete: true, Counts: map[string]int{relay.CountListed: 3}}}}
	if err := rh.Handle(t.Context(), events.CloudWatchEvent{}); err != nil {
		t.Fatal(err)
	}
	out.reconciler = lines()[0]

	var records events.DynamoDBEvent
	readJSON(t, "../../events/dynamodb-ledger-stream.json", &records)
	eh := eventshandler.Handler{Announcer: &announce.Announcer{Bus: acceptingBus{}, Log: log, Now: time.Now}, Log: log, Now: time.Now}
	if resp, err := eh.Handle(inLambda(t.Context()), records); err != nil || len(resp.BatchItemFailures) > 0 {
		t.Fatalf("stream sample: %+v %v", resp, err)
	}
	out.stream = lines()[0]

	// A request without an IAM caller is refused before the API is
	// called; its line is the line of any request, metric included.
	rw := rewardshandler.Handler{Log: log, Now: time.Now}
	unsigned := events.APIGatewayV2HTTPRequest{RouteKey: "POST /v1/recipients/{recipient}/redemptions", PathParameters: map[string]string{"recipient": "promoter:1001"}}
	if resp, _ := rw.Handle(inLambda(t.Context()), unsigned); resp.StatusCode != 403 {
		t.Fatalf("unsigned request answered %d", resp.StatusCode)
	}
	out.rewards = lines()[0]
	return out
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// templateCosts are the defaults with what the template decides.
func templateCosts(t *testing.T) costCounts {
	t.Helper()
	tpl, err := stack.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := defaultCostCounts()
	if err := c.fromTemplate(tpl); err != nil {
		t.Fatal(err)
	}
	return c
}

func near(got, want, tolerance float64) bool { return math.Abs(got-want) <= tolerance*want }

// TestCostModelCountsWhatTheFunctionsWrite holds the model's log bytes and
// metric count to the functions' real lines, and its template figures to
// the template.
func TestCostModelCountsWhatTheFunctionsWrite(t *testing.T) {
	lines := writeLines(t)
	c := defaultCostCounts()
	size := func(ls ...string) (n float64) {
		for _, l := range ls {
			n += float64(len(l) + 1)
		}
		return n
	}
	if got := size(lines.webhook...); !near(c.WebhookLineBytes, got, 0.1) {
		t.Errorf("the webhook writes %v bytes a delivery; the model counts %v", got, c.WebhookLineBytes)
	}
	// The line per applied commission event is DEBUG: at the template's
	// INFO none is written (a hold's or a drift's line is rare).
	var applied []string
	for _, l := range lines.events {
		if strings.Contains(l, `"msg":"applied"`) {
			applied = append(applied, l)
		}
	}
	if got := size(applied...) / float64(lines.deliveries); !near(c.EventLineBytes, got, 0.15) {
		t.Errorf("the processor writes %v bytes of applied lines a delivery; the model counts %v", got, c.EventLineBytes)
	}
	if got := size(lines.batch); !near(c.BatchLineBytes, got, 0.15) {
		t.Errorf("the processor writes %v bytes a batch; the model counts %v", got, c.BatchLineBytes)
	}
	if got := size(lines.rewards); !near(c.RewardsLineBytes, got, 0.15) {
		t.Errorf("the Rewards API writes %v bytes a request; the model counts %v", got, c.RewardsLineBytes)
	}
	if got := size(lines.stream); !near(c.EventsBatchLineBytes, got, 0.15) {
		t.Errorf("the events function writes %v bytes a batch; the model counts %v", got, c.EventsBatchLineBytes)
	}

	// The access log line, with the values of a real request.
	tpl, err := stack.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	format := tpl.Resources["HttpApi"].Properties["AccessLogSettings"].(map[string]any)["Format"].(string)
	sample := map[string]string{
		"$context.requestId": "Kx9vQjNcIAMEV3w=", "$context.requestTime": "27/Nov/2026:16:32:01 +0000",
		"$context.identity.sourceIp": "203.0.113.24", "$context.httpMethod": "POST", "$context.path": "/webhooks/firstpromoter",
		"$context.routeKey": "POST /webhooks/{provider}", "$context.status": "202", "$context.responseLength": "67",
		"$context.responseLatency": "14", "$context.integrationStatus": "200", "$context.integrationLatency": "12",
		"$context.integrationErrorMessage": "-", "$context.integration.requestId": "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa",
	}
	access := regexp.MustCompile(`\$context\.[A-Za-z.]+`).ReplaceAllStringFunc(format, func(v string) string {
		if s, ok := sample[v]; ok {
			return s
		}
		t.Errorf("no sample value for %s", v)
		return v
	})
	if got := size(access); !near(c.AccessLineBytes, got, 0.15) {
		t.Errorf("an access log line is %v bytes; the model counts %v", got, c.AccessLineBytes)
	}

	// Billed metrics: each function's, Webhooks by 3 outcomes (the events
	// function writes none: its alarms watch Lambda's and the failure
	// queue's).
	metrics := func(line string) float64 {
		var r struct {
			AWS struct {
				CloudWatchMetrics []struct{ Metrics []struct{ Name string } }
			} `json:"_aws"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil || len(r.AWS.CloudWatchMetrics) != 1 {
			t.Fatalf("not one EMF directive: %v %s", err, line)
		}
		return float64(len(r.AWS.CloudWatchMetrics[0].Metrics))
	}
	if strings.Contains(lines.stream, `"_aws"`) {
		t.Errorf("the events function's line is an EMF record the model does not count: %s", lines.stream)
	}
	if got := metrics(lines.batch) + metrics(lines.reconciler) + 3*metrics(lines.webhook[0]) + metrics(lines.rewards); got != c.MetricSeries {
		t.Errorf("the functions write %v custom metrics; the model counts %v", got, c.MetricSeries)
	}

	want := templateCosts(t)
	for name, pair := range map[string][2]float64{
		"webhook memory": {c.WebhookMB, want.WebhookMB}, "processor memory": {c.ProcessorMB, want.ProcessorMB}, "reconciler memory": {c.ReconcilerMB, want.ReconcilerMB}, "events memory": {c.EventsMB, want.EventsMB}, "rewards memory": {c.RewardsMB, want.RewardsMB},
		"alarm metrics": {c.AlarmMetrics, want.AlarmMetrics}, "dashboards": {c.Dashboards, want.Dashboards}, "reconciler runs": {c.ReconcileRunsPerMonth, want.ReconcileRunsPerMonth},
		"least provisioned write capacity": {c.ProvisionedMinWCU, want.ProvisionedMinWCU},
	} {
		if pair[0] != pair[1] {
			t.Errorf("%s: the model's default %v, the template's %v", name, pair[0], pair[1])
		}
	}
}

// dashboardRow resolves a dashboard metric row against the one above it:
// "." repeats the value above, a leading "..." repeats the row above but
// for the values given.
func dashboardRow(row []any, prev []string) []string {
	var given []string
	for _, v := range row {
		if s, ok := v.(string); ok {
			given = append(given, s)
		}
	}
	if len(given) > 0 && given[0] == "..." {
		return append(slices.Clone(prev[:len(prev)-(len(given)-1)]), given[1:]...)
	}
	for i, s := range given {
		if s == "." && i < len(prev) {
			given[i] = prev[i]
		}
	}
	return given
}

// TestEveryBilledMetricIsWatched: each custom metric the functions write
// is on the dashboard or behind an alarm (else it is billed for nothing),
// and each one the dashboard and the alarms use is written.
func TestEveryBilledMetricIsWatched(t *testing.T) {
	lines := writeLines(t)
	written := map[string]bool{}
	// The webhook's and the Rewards API's metrics have no function
	// dimension.
	for _, fl := range [][2]string{{"processor", lines.batch}, {"reconciler", lines.reconciler}, {"", lines.webhook[0]}, {"", lines.rewards}} {
		fn, line := fl[0], fl[1]
		var r struct {
			AWS struct {
				CloudWatchMetrics []struct{ Metrics []struct{ Name string } }
			} `json:"_aws"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		for _, m := range r.AWS.CloudWatchMetrics[0].Metrics {
			written[m.Name+" "+fn] = true
		}
	}
	tpl, err := stack.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	function := func(dims []string) string {
		for i := 0; i+1 < len(dims); i++ {
			if dims[i] == "function" {
				return dims[i+1]
			}
		}
		return ""
	}
	for _, r := range tpl.Resources {
		switch r.Type {
		case "AWS::CloudWatch::Alarm":
			metrics := []any{r.Properties}
			if list, ok := r.Properties["Metrics"].([]any); ok {
				metrics = nil
				for _, m := range list {
					if ms, ok := m.(map[string]any)["MetricStat"].(map[string]any); ok {
						metrics = append(metrics, ms["Metric"])
					}
				}
			}
			for _, m := range metrics {
				m := m.(map[string]any)
				if m["Namespace"] != telemetry.Namespace {
					continue
				}
				var dims []string
				for _, d := range m["Dimensions"].([]any) {
					d := d.(map[string]any)
					dims = append(dims, d["Name"].(string), toJSON(d["Value"]))
				}
				used[m["MetricName"].(string)+" "+function(dims)] = true
			}
		case "AWS::CloudWatch::Dashboard":
			body := r.Properties["DashboardBody"].(map[string]any)["Fn::Sub"].(string)
			var d struct {
				Widgets []struct {
					Properties struct{ Metrics [][]any }
				}
			}
			if err := json.Unmarshal([]byte(body), &d); err != nil {
				t.Fatal(err)
			}
			for _, w := range d.Widgets {
				var prev []string
				for _, row := range w.Properties.Metrics {
					prev = dashboardRow(row, prev)
					if prev[0] == telemetry.Namespace {
						used[prev[1]+" "+function(prev[2:])] = true
					}
				}
			}
		}
	}
	for m := range written {
		if !used[m] {
			t.Errorf("metric %q is written but neither on the dashboard nor behind an alarm", m)
		}
	}
	for m := range used {
		if !written[m] {
			t.Errorf("metric %q is watched but no function writes it", m)
		}
	}
}

func toJSON(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestCostModelArithmetic(t *testing.T) {
	c := costCounts{WebhooksPerReward: 2, MessagesPerBatch: 100, MessagesPerReceive: 10, RewardsPerMonth: []float64{1e6, 4e6}, DeliveryItems: 3, WebhookMB: 1024, WebhookMs: 1000,
		MetricSeries: 10, Secrets: 2, ProvisionedUtilization: 0.5}
	p := costPrices{HTTPAPIPerMillion: 1, SQSPerMillion: 1, WriteUnitPerMillion: 1, LambdaPerGBSecond: 1e-6, MetricPerMonth: 0.3, SecretPerMonth: 0.4, WCUPerHour: 0.001}
	got := map[string]float64{}
	for _, term := range append(c.variable(p), c.fixed(p)...) {
		got[term.Name] = term.Dollars
	}
	for name, want := range map[string]float64{
		"API Gateway HTTP API requests":                     2,   // 2 million requests
		"SQS requests (send, receive, delete)":              2.4, // each message sent once, received and deleted in tens
		"DynamoDB writes (transactions at 2 units an item)": 12,  // 2 million transactions of 3 items at 2 units
		"Lambda duration, arm64":                            2,   // 2 million webhook seconds at 1 GB
		"CloudWatch custom metrics":                         3,   // a month, whatever the volume
		"Secrets Manager":                                   0.8,
	} {
		if !near(got[name], want, 1e-9) {
			t.Errorf("%s: %v dollars, want %v", name, got[name], want)
		}
	}
	// 12 million write units on capacity used at half: 12e6 / (730 h x
	// 3600 s x 0.5) units for 730 hours at $0.001.
	if got, want := c.provisionedWrites(p, 0.5), 12e6/(730*3600*0.5)*0.001*730; !near(got, want, 1e-9) {
		t.Errorf("provisioned writes %v dollars, want %v", got, want)
	}
	table := costTable(c, p)
	for _, want := range []string{
		"| **per million rewards** | | **18.40** |", // 2 + 2.4 + 12 + 2
		"| **a month** | | **3.80** |",              // metrics and secrets
		// The fixed month spread over 1 and over 4 million rewards.
		"| 1.00 million | 18.40 | 3.80 | 22.20 | 22.20 |",
		"| 4.00 million | 73.60 | 3.80 | 77.40 | 19.35 |",
		"Largest term: DynamoDB writes (transactions at 2 units an item), 65% of the variable cost.",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("the table lacks %q:\n%s", want, table)
		}
	}
}

// TestREADMEShowsTheCostModel: the README's table is what rewardctl cost
// prints for the template, not arithmetic by hand.
func TestREADMEShowsTheCostModel(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := writeCost(&out, templateCosts(t)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readme, out.Bytes()) {
		t.Errorf("README.md does not show the cost model; go run ./cmd/rewardctl cost prints:\n%s", out.String())
	}
}
