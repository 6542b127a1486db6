package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The template's rules for running in a real account: each test holds one
// of them.

var functions = []string{"WebhookFunction", "ProcessorFunction", "ReconcilerFunction", "RewardsApiFunction"}

// anyRef resolves every resource reference to its name, for Properties.
func anyRef(id string) (string, bool) { return id, true }

// statements returns the IAM statements of a function's inline policies,
// resolved with the overrides.
func statements(t *testing.T, tpl *Template, id string, overrides map[string]string) []map[string]any {
	t.Helper()
	p, err := tpl.Properties(id, overrides, anyRef)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, policy := range p["Policies"].([]any) {
		m, _ := policy.(map[string]any)
		list, _ := m["Statement"].([]any)
		for _, s := range list {
			out = append(out, s.(map[string]any))
		}
	}
	return out
}

// strs reads a string or a list of strings.
func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, item := range v {
			out = append(out, strs(item)...)
		}
		return out
	}
	return nil
}

func TestReconcilerReservesConcurrencyOnlyWhenAsked(t *testing.T) {
	tpl := load(t)
	if d := tpl.Parameters["ReconcilerReservedConcurrency"].Default; d != "" {
		t.Errorf("ReconcilerReservedConcurrency defaults to %v; a reservation fails in new accounts", d)
	}
	p, err := tpl.Properties("ReconcilerFunction", nil, anyRef)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := p["ReservedConcurrentExecutions"]; ok {
		t.Errorf("by default the reconciler reserves %v", v)
	}
	p, err = tpl.Properties("ReconcilerFunction", map[string]string{"ReconcilerReservedConcurrency": "1"}, anyRef)
	if err != nil {
		t.Fatal(err)
	}
	if v := p["ReservedConcurrentExecutions"]; v != "1" {
		t.Errorf("asked for 1, the reconciler reserves %v", v)
	}
	for id, r := range tpl.Resources {
		if v, ok := r.Properties["ReservedConcurrentExecutions"]; ok && id != "ReconcilerFunction" {
			t.Errorf("%s reserves concurrency %v", id, v)
		}
	}
}

// secretVariables are the settings that come from a secret in AWS.
var secretVariables = map[string][]string{
	"WebhookFunction":    {"FIRSTPROMOTER_WEBHOOK_SECRETS", "FIRSTPROMOTER_WEBHOOK_TOKEN", "FIRSTPROMOTER_WEBHOOK_BASIC_AUTH", "AGENTREF_WEBHOOK_SECRETS"},
	"ProcessorFunction":  {"FIRSTPROMOTER_API_KEY", "FIRSTPROMOTER_ACCOUNT_ID"},
	"ReconcilerFunction": {"FIRSTPROMOTER_API_KEY", "FIRSTPROMOTER_ACCOUNT_ID", "AGENTREF_API_KEY"},
}

func TestSecretVariablesAreDeclaredEmpty(t *testing.T) {
	tpl := load(t)
	for id, names := range secretVariables {
		vars, err := tpl.Variables(id)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			if v, ok := vars[name]; !ok || v != "" {
				t.Errorf("%s: %s is %v; a secret is declared empty (sam local invoke sets it, the secret holds it in AWS)", id, name, v)
			}
		}
	}
}

func TestEachFunctionReadsOnlyItsSecret(t *testing.T) {
	tpl := load(t)
	want := map[string]string{"WebhookFunction": "WebhookSecretArn", "ProcessorFunction": "PlatformSecretArn", "ReconcilerFunction": "PlatformSecretArn"}
	set := map[string]string{"WebhookSecretArn": "arn:webhook", "PlatformSecretArn": "arn:platform"}
	for id, param := range want {
		vars, _ := tpl.Variables(id)
		if diff := cmp.Diff(map[string]any{"Ref": param}, vars["SECRET_ARN"]); diff != "" {
			t.Errorf("%s SECRET_ARN (-want +got):\n%s", id, diff)
		}
		p, err := tpl.Properties(id, set, anyRef)
		if err != nil {
			t.Fatal(err)
		}
		var readable []string
		walk(p["Policies"], func(m map[string]any) {
			if arn, ok := m["AWSSecretsManagerGetSecretValuePolicy"].(map[string]any); ok {
				readable = append(readable, arn["SecretArn"].(string))
			}
			if slices.Contains(strs(m["Action"]), "secretsmanager:GetSecretValue") {
				readable = append(readable, strs(m["Resource"])...)
			}
		})
		if diff := cmp.Diff([]string{set[param]}, readable); diff != "" {
			t.Errorf("%s may read secrets (-want +got):\n%s", id, diff)
		}
	}
}

func TestAKeyManagedSecretIsDecryptedOnlyThroughSecretsManager(t *testing.T) {
	tpl := load(t)
	for _, id := range functions {
		for _, s := range statements(t, tpl, id, nil) {
			if slices.Contains(strs(s["Action"]), "kms:Decrypt") {
				t.Errorf("%s may decrypt with no key configured: %v", id, s)
			}
		}
		found := false
		for _, s := range statements(t, tpl, id, map[string]string{"SecretsKmsKeyArn": "arn:key"}) {
			if !slices.Contains(strs(s["Action"]), "kms:Decrypt") {
				continue
			}
			found = true
			via := toString(s["Condition"])
			if !slices.Equal(strs(s["Resource"]), []string{"arn:key"}) || !strings.Contains(via, `"kms:ViaService":"secretsmanager.`) {
				t.Errorf("%s decrypts %v under %s; want the key, through Secrets Manager only", id, s["Resource"], via)
			}
		}
		// The Rewards API reads no secret, so it decrypts none.
		if reads := id != "RewardsApiFunction"; found != reads {
			t.Errorf("%s can decrypt under the configured key: %v, want %v", id, found, reads)
		}
	}
}

func TestARNParametersAreChecked(t *testing.T) {
	tpl := load(t)
	tests := map[string]struct{ good, bad []string }{
		"WebhookSecretArn":  {[]string{"", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rewardrelay/webhook-AbCdEf"}, []string{"rewardrelay", "arn:aws:ssm:eu-west-1:123456789012:parameter/x", "arn:aws:secretsmanager:eu-west-1:123:secret:x"}},
		"PlatformSecretArn": {[]string{"", "arn:aws:secretsmanager:us-east-1:123456789012:secret:platform-1a2B3c"}, []string{"platform", "arn:aws:sns:us-east-1:123456789012:t"}},
		"SecretsKmsKeyArn":  {[]string{"", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"}, []string{"alias/rewardrelay", "arn:aws:kms:us-east-1:123456789012:alias/rewardrelay"}},
		"AlarmTopicArn":     {[]string{"", "arn:aws:sns:us-east-1:123456789012:on-call"}, []string{"on-call", "arn:aws:sqs:us-east-1:123456789012:q"}},
	}
	for name, tt := range tests {
		pattern := tpl.Parameters[name].AllowedPattern
		if pattern == "" {
			t.Errorf("%s has no AllowedPattern", name)
			continue
		}
		re := regexp.MustCompile(pattern)
		for _, v := range tt.good {
			if !re.MatchString(v) {
				t.Errorf("%s refuses %q", name, v)
			}
		}
		for _, v := range tt.bad {
			if re.MatchString(v) {
				t.Errorf("%s accepts %q", name, v)
			}
		}
	}
}

// dynamoActions returns a function's DynamoDB actions with their resources
// and conditions.
func dynamoActions(t *testing.T, tpl *Template, id string) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	for _, s := range statements(t, tpl, id, nil) {
		for _, a := range strs(s["Action"]) {
			if strings.HasPrefix(a, "dynamodb:") {
				out[a] = append(out[a], s)
			}
		}
	}
	return out
}

func TestFunctionsMayMakeOnlyTheCallsTheyMake(t *testing.T) {
	tpl := load(t)
	want := map[string][]string{
		"WebhookFunction":    nil,
		"ProcessorFunction":  {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
		"ReconcilerFunction": {"dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"},
		"RewardsApiFunction": {"dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"},
	}
	for _, id := range functions {
		walk(tpl.Resources[id].Properties["Policies"], func(m map[string]any) {
			for k := range m {
				if strings.Contains(k, "Crud") || strings.Contains(k, "FullAccess") || strings.Contains(k, "ReadPolicy") {
					t.Errorf("%s has the broad policy template %s", id, k)
				}
			}
		})
		actions := dynamoActions(t, tpl, id)
		var got []string
		for a := range actions {
			got = append(got, a)
		}
		slices.Sort(got)
		if diff := cmp.Diff(want[id], got); diff != "" {
			t.Errorf("%s DynamoDB actions (-want +got):\n%s", id, diff)
		}
		for a, list := range actions {
			for _, s := range list {
				for _, r := range strs(s["Resource"]) {
					if r != "LedgerTable.Arn" && !slices.Contains([]string{"outbox", "holds", "recipient"}, strings.TrimPrefix(r, "LedgerTable.Arn/index/")) {
						t.Errorf("%s: %s on %s, want the ledger table only", id, a, r)
					}
				}
				// The Rewards API writes redemptions, commissions' failed
				// deliveries, their entries and balances, never a payout,
				// hold or event record.
				if id == "RewardsApiFunction" && (a == "dynamodb:PutItem" || a == "dynamodb:UpdateItem") &&
					toString(s["Condition"]) != `{"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["REDEMPTION#*","BALANCE#*","firstpromoter#redemption:*","agentref#redemption:*","firstpromoter#commission:*","agentref#commission:*"]}}` {
					t.Errorf("%s may %s any item (condition %v)", id, a, s["Condition"])
				}
				if a == "dynamodb:DeleteItem" && toString(s["Condition"]) != `{"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["BATCH#*"]}}` {
					t.Errorf("%s may delete any item (condition %v): the ledger is append-only", id, s["Condition"])
				}
			}
		}
	}
}

func TestOperatorPolicyCoversRewardctl(t *testing.T) {
	tpl := load(t)
	if !strings.Contains(toString(tpl.Outputs["OperatorPolicyArn"]), `"Value":{"Ref":"OperatorPolicy"}`) {
		t.Errorf("no OperatorPolicyArn output: %v", tpl.Outputs["OperatorPolicyArn"])
	}
	p, err := tpl.Properties("OperatorPolicy", map[string]string{"PlatformSecretArn": "arn:platform", "WebhookSecretArn": "arn:webhook"}, anyRef)
	if err != nil {
		t.Fatalf("no operator policy: %v", err)
	}
	allowed := map[string][]string{} // action -> resources
	for _, s := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
		s := s.(map[string]any)
		for _, a := range strs(s["Action"]) {
			allowed[a] = append(allowed[a], strs(s["Resource"])...)
		}
	}
	// What each command calls (see the README's table).
	needs := []struct {
		command, action, resource string
	}{
		{"balances, commission, audit, drift", "dynamodb:DescribeTable", "LedgerTable.Arn"},
		{"audit, balances", "dynamodb:Scan", "LedgerTable.Arn"},
		{"commission, drift", "dynamodb:Query", "LedgerTable.Arn"},
		{"reconcile", "dynamodb:Query", "LedgerTable.Arn/index/outbox"},
		{"reconcile", "dynamodb:Query", "LedgerTable.Arn/index/holds"},
		{"reconcile", "dynamodb:GetItem", "LedgerTable.Arn"},
		{"reconcile", "dynamodb:PutItem", "LedgerTable.Arn"},
		{"reconcile", "dynamodb:UpdateItem", "LedgerTable.Arn"},
		{"reconcile", "dynamodb:DeleteItem", "LedgerTable.Arn"},
		{"reconcile", "secretsmanager:GetSecretValue", "arn:platform"},
		{"dlq", "sqs:ReceiveMessage", "DeadLetterQueue.Arn"},
		{"dlq", "sqs:ChangeMessageVisibility", "DeadLetterQueue.Arn"},
		{"dlq", "dynamodb:GetItem", "LedgerTable.Arn"},
		{"dlq redrive", "sqs:GetQueueAttributes", "DeadLetterQueue.Arn"},
		{"dlq redrive", "sqs:GetQueueAttributes", "EventQueue.Arn"},
		{"dlq redrive", "sqs:StartMessageMoveTask", "DeadLetterQueue.Arn"},
		{"dlq redrive", "sqs:DeleteMessage", "DeadLetterQueue.Arn"},
		{"dlq redrive", "sqs:SendMessage", "EventQueue.Arn"},
	}
	for _, n := range needs {
		if !slices.Contains(allowed[n.action], n.resource) {
			t.Errorf("rewardctl %s needs %s on %s", n.command, n.action, n.resource)
		}
	}
	if slices.Contains(allowed["secretsmanager:GetSecretValue"], "arn:webhook") {
		t.Error("operators may read the webhook secret; no command needs it")
	}
}

func TestLambdaForwardsEveryLineAndKeepsSystemLogs(t *testing.T) {
	tpl := load(t)
	fn := tpl.Globals["Function"].(map[string]any)
	want := `{"ApplicationLogLevel":"TRACE","LogFormat":"JSON","SystemLogLevel":"INFO"}`
	if got := toString(fn["LoggingConfig"]); got != want {
		t.Errorf("LoggingConfig %s, want %s: Lambda must drop no metric record, and keep START and REPORT", got, want)
	}
	env, _ := fn["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	if toString(vars["LOG_LEVEL"]) != `{"Ref":"LogLevel"}` || toString(vars["STACK_NAME"]) != `{"Ref":"AWS::StackName"}` {
		t.Errorf("LOG_LEVEL %v, STACK_NAME %v; want the LogLevel parameter and the stack name", vars["LOG_LEVEL"], vars["STACK_NAME"])
	}
	for _, id := range functions {
		if lc, ok := tpl.Resources[id].Properties["LoggingConfig"].(map[string]any); ok {
			for k := range lc {
				if k != "LogGroup" {
					t.Errorf("%s overrides LoggingConfig.%s", id, k)
				}
			}
		}
	}
}

// alarms returns the template's alarms.
func alarms(tpl *Template) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range tpl.Resources {
		if r.Type == "AWS::CloudWatch::Alarm" {
			out[id] = r.Properties
		}
	}
	return out
}

// watched lists what an alarm watches as "Namespace MetricName Dim=Value ...",
// for a single metric or each metric of a metric-math alarm.
func watched(a map[string]any) []string {
	one := func(ns, name any, dims any) string {
		s := toString(ns) + " " + toString(name)
		for _, d := range dims.([]any) {
			d := d.(map[string]any)
			s += " " + toString(d["Name"]) + "=" + toString(d["Value"])
		}
		return strings.ReplaceAll(s, `"`, "")
	}
	if a["Metrics"] == nil {
		return []string{one(a["Namespace"], a["MetricName"], a["Dimensions"])}
	}
	var out []string
	for _, m := range a["Metrics"].([]any) {
		if ms, ok := m.(map[string]any)["MetricStat"].(map[string]any); ok {
			metric := ms["Metric"].(map[string]any)
			out = append(out, one(metric["Namespace"], metric["MetricName"], metric["Dimensions"]))
		}
	}
	return out
}

func TestCustomMetricAlarmsWatchOnlyTheirStack(t *testing.T) {
	tpl := load(t)
	for id, a := range alarms(tpl) {
		for _, w := range watched(a) {
			if strings.HasPrefix(w, "rewardrelay ") && !strings.Contains(w, " stack={Ref:AWS::StackName}") {
				t.Errorf("%s watches %s, the metric of every stack in the account", id, w)
			}
		}
	}
}

func TestOnCallAlarms(t *testing.T) {
	tpl := load(t)
	var all []string
	for _, a := range alarms(tpl) {
		all = append(all, watched(a)...)
	}
	for _, want := range []string{
		"AWS/Lambda Throttles FunctionName={Ref:WebhookFunction}",
		"AWS/Lambda Throttles FunctionName={Ref:ProcessorFunction}",
		"AWS/Lambda Throttles FunctionName={Ref:ReconcilerFunction}",
		"AWS/SQS ApproximateAgeOfOldestMessage QueueName={Fn::GetAtt:[EventQueue,QueueName]}",
		"AWS/SQS ApproximateNumberOfMessagesVisible QueueName={Fn::GetAtt:[DeadLetterQueue,QueueName]}",
		"AWS/SQS ApproximateNumberOfMessagesVisible QueueName={Fn::GetAtt:[ReconcilerScheduleDeadLetterQueue,QueueName]}",
		"rewardrelay Webhooks stack={Ref:AWS::StackName} outcome=rejected",
		"AWS/ApiGateway 5xx ApiId={Ref:HttpApi}",
		"rewardrelay drift stack={Ref:AWS::StackName} function=reconciler",
		"rewardrelay outbox_oldest_seconds stack={Ref:AWS::StackName} function=reconciler",
		"rewardrelay waiting stack={Ref:AWS::StackName} function=processor",
	} {
		if !slices.Contains(all, want) {
			t.Errorf("no alarm watches %s", want)
		}
	}
	// Every function: its failures and its throttles; every function a
	// stream feeds: how far behind the stream it reads.
	for id, r := range tpl.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		for _, metric := range []string{"Errors", "Throttles"} {
			if want := "AWS/Lambda " + metric + " FunctionName={Ref:" + id + "}"; !slices.Contains(all, want) {
				t.Errorf("no alarm watches %s", want)
			}
		}
		events, _ := r.Properties["Events"].(map[string]any)
		for _, e := range events {
			if e.(map[string]any)["Type"] != "DynamoDB" {
				continue
			}
			if want := "AWS/Lambda IteratorAge FunctionName={Ref:" + id + "}"; !slices.Contains(all, want) {
				t.Errorf("no alarm watches %s", want)
			}
		}
	}
	for id, a := range alarms(tpl) {
		if toString(a["OKActions"]) != toString(a["AlarmActions"]) || a["AlarmActions"] == nil {
			t.Errorf("%s: AlarmActions %v, OKActions %v; on call hears when it fires and when it recovers", id, a["AlarmActions"], a["OKActions"])
		}
	}
}

func TestHeartbeatAlarmsOnThreeIntervalsWithoutARun(t *testing.T) {
	tpl := load(t)
	var hb map[string]any
	for _, a := range alarms(tpl) {
		if slices.Contains(watched(a), "rewardrelay duration_ms stack={Ref:AWS::StackName} function=reconciler") {
			hb = a
		}
	}
	if hb == nil {
		t.Fatal("no alarm on the reconciler's run summaries")
	}
	if hb["TreatMissingData"] != "breaching" || toString(hb["EvaluationPeriods"]) != "3" || hb["Statistic"] != "SampleCount" || hb["ComparisonOperator"] != "LessThanThreshold" {
		t.Errorf("heartbeat %v: want fewer than 1 summary in 3 periods, missing data breaching", hb)
	}
	for _, minutes := range tpl.Parameters["ReconcileIntervalMinutes"].AllowedValues {
		over := map[string]string{"ReconcileIntervalMinutes": toString(minutes)}
		period, err := tpl.Resolve(hb["Period"], over, nil)
		if err != nil {
			t.Fatal(err)
		}
		expr, err := tpl.ScheduleExpression("ReconcilerFunction", over)
		if err != nil {
			t.Fatal(err)
		}
		wantExpr := "rate(" + toString(minutes) + " minutes)"
		switch toString(minutes) {
		case "1":
			wantExpr = "rate(1 minute)"
		case "60":
			wantExpr = "rate(1 hour)"
		}
		if toString(period) != toString(toInt(t, minutes)*60) || expr != wantExpr {
			t.Errorf("%v minutes: schedule %q, heartbeat period %v", minutes, expr, period)
		}
	}
}

func TestAccessLogsAreJSONWithoutBodies(t *testing.T) {
	tpl := load(t)
	settings, ok := tpl.Resources["HttpApi"].Properties["AccessLogSettings"].(map[string]any)
	if !ok {
		t.Fatal("the webhook API writes no access log")
	}
	if toString(settings["DestinationArn"]) != `{"Fn::GetAtt":["ApiAccessLogGroup","Arn"]}` {
		t.Errorf("access logs go to %v", settings["DestinationArn"])
	}
	var fields map[string]string
	format, _ := settings["Format"].(string)
	if err := json.Unmarshal([]byte(format), &fields); err != nil {
		t.Fatalf("access log format is not a JSON object of strings: %v", err)
	}
	for k, v := range fields {
		if strings.Contains(strings.ToLower(v), "body") || strings.Contains(strings.ToLower(v), "header") || strings.Contains(strings.ToLower(v), "authorizer") {
			t.Errorf("access log field %s = %s may carry a body, a header or a credential", k, v)
		}
	}
	for _, want := range []string{"$context.requestId", "$context.status", "$context.integrationErrorMessage"} {
		if !slices.Contains(slices.Collect(func(yield func(string) bool) {
			for _, v := range fields {
				if !yield(v) {
					return
				}
			}
		}), want) {
			t.Errorf("access log has no %s", want)
		}
	}
	if tpl.Resources["ApiAccessLogGroup"].Properties["RetentionInDays"] == nil {
		t.Error("the access log group keeps everything forever")
	}
}

func TestDashboardShowsTheFlow(t *testing.T) {
	tpl := load(t)
	sub, _ := tpl.Resources["Dashboard"].Properties["DashboardBody"].(map[string]any)
	body, ok := sub["Fn::Sub"].(string)
	if !ok {
		t.Fatal("no dashboard")
	}
	raw := regexp.MustCompile(`\$\{[^}]+\}`).ReplaceAllString(body, "x")
	var d struct {
		Widgets []struct {
			Type       string `json:"type"`
			Properties struct {
				Alarms  []string `json:"alarms"`
				Metrics [][]any  `json:"metrics"`
			} `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		t.Fatalf("dashboard body is not JSON: %v", err)
	}
	shown := map[string]bool{}
	for _, w := range d.Widgets {
		for _, m := range w.Properties.Metrics {
			// [namespace, name, dims...] where "." repeats the line above.
			if len(m) > 1 {
				if name, ok := m[1].(string); ok && name != "." {
					shown[name] = true
				}
			}
		}
	}
	for _, want := range []string{
		"Webhooks", "5xx", "ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage",
		"applied", "delivered", "acknowledged", "outbox_oldest_seconds", "drift",
		"platform_error", "platform_429", "duration_ms", "Errors", "Throttles",
	} {
		if !shown[want] {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
	for id := range alarms(tpl) {
		if !strings.Contains(body, "${"+id+".Arn}") {
			t.Errorf("the dashboard's alarm widget does not list %s", id)
		}
	}
}

// samconfigOverrides reads the parameter_overrides of a samconfig.toml
// section, e.g. "prod.deploy.parameters".
func samconfigOverrides(t *testing.T, section string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("../../samconfig.toml")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(raw), "["+section+"]")
	if !ok {
		t.Fatalf("samconfig.toml has no [%s]", section)
	}
	rest, _, _ = strings.Cut(rest, "\n[")
	line := regexp.MustCompile(`(?m)^parameter_overrides = "(.*)"$`).FindStringSubmatch(rest)
	if line == nil {
		t.Fatalf("[%s] has no parameter_overrides", section)
	}
	out := map[string]string{}
	for _, kv := range regexp.MustCompile(`(\w+)=\\"([^"\\]*)\\"`).FindAllStringSubmatch(line[1], -1) {
		out[kv[1]] = kv[2]
	}
	return out
}

func TestProdDeployNeedsSecretsAndAnAlarmTopic(t *testing.T) {
	tpl := load(t)
	prod := samconfigOverrides(t, "prod.deploy.parameters")
	if prod["Stage"] != "prod" {
		t.Fatalf("samconfig.toml's prod environment deploys Stage=%q", prod["Stage"])
	}
	failed, err := tpl.CheckRules(prod)
	if err != nil {
		t.Fatal(err)
	}
	for _, param := range []string{"WebhookSecretArn", "PlatformSecretArn", "AlarmTopicArn"} {
		if _, set := prod[param]; set {
			continue // an operator filled it in: then the rule must pass for it
		}
		if !slices.ContainsFunc(failed, func(s string) bool { return strings.Contains(s, param) }) {
			t.Errorf("a prod deploy without %s succeeds; refused with: %q", param, failed)
		}
	}
	complete := map[string]string{"Stage": "prod", "WebhookSecretArn": "arn:w", "PlatformSecretArn": "arn:p", "AlarmTopicArn": "arn:t"}
	if failed, err := tpl.CheckRules(complete); err != nil || len(failed) > 0 {
		t.Errorf("a complete prod deploy is refused: %q %v", failed, err)
	}
	if failed, err := tpl.CheckRules(samconfigOverrides(t, "default.deploy.parameters")); err != nil || len(failed) > 0 {
		t.Errorf("the default environment is refused: %q %v", failed, err)
	}
}

func TestBatchAboveTenNeedsABatchingWindow(t *testing.T) {
	tpl := load(t)
	tests := []struct {
		size, window string
		refused      bool
	}{
		{"11", "0", true},
		{"100", "0", true},
		{"10", "0", false},
		{"1", "0", false},
		{"11", "1", false},
		{"100", "2", false},
	}
	for _, tt := range tests {
		failed, err := tpl.CheckRules(map[string]string{"ProcessorBatchSize": tt.size, "ProcessorBatchWindowSeconds": tt.window})
		if err != nil {
			t.Fatal(err)
		}
		if refused := slices.ContainsFunc(failed, func(s string) bool { return strings.Contains(s, "ProcessorBatchWindowSeconds") }); refused != tt.refused {
			t.Errorf("batch %s, window %s: refused %v, want %v (%q)", tt.size, tt.window, refused, tt.refused, failed)
		}
	}
	if failed, err := tpl.CheckRules(nil); err != nil || len(failed) > 0 {
		t.Errorf("the defaults are refused: %q %v", failed, err)
	}
}

func TestReconcilerScheduleRetriesAndDeadLetters(t *testing.T) {
	tpl := load(t)
	e := tpl.Resources["ReconcilerFunction"].Properties["Events"].(map[string]any)["Schedule"].(map[string]any)
	p := e["Properties"].(map[string]any)
	input, _ := p["Input"].(string)
	if e["Type"] != "ScheduleV2" || p["OmitName"] != true {
		t.Errorf("schedule %v: want an EventBridge Scheduler schedule without a fixed name", e)
	}
	if toString(p["RetryPolicy"]) == "null" || toString(p["DeadLetterConfig"]) != `{"Arn":{"Fn::GetAtt":["ReconcilerScheduleDeadLetterQueue","Arn"]}}` {
		t.Errorf("retry policy %v, dead-letter queue %v", p["RetryPolicy"], p["DeadLetterConfig"])
	}
	sample, err := os.ReadFile("../../events/schedule-reconcile.json")
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	if err := json.Unmarshal(sample, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(input), &got); err != nil {
		t.Fatalf("schedule input: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events/schedule-reconcile.json is not what the schedule sends (-sample +schedule):\n%s", diff)
	}
}

func TestLedgerCapacityIsOnDemandUnlessProvisionedIsAsked(t *testing.T) {
	tpl := load(t)
	if d := tpl.Parameters["LedgerCapacity"].Default; d != "on-demand" {
		t.Errorf("LedgerCapacity defaults to %v, want on-demand", d)
	}
	scaling := map[string]string{}
	for id, r := range tpl.Resources {
		if strings.HasPrefix(r.Type, "AWS::ApplicationAutoScaling::") {
			if r.Condition != "HasProvisionedLedger" {
				t.Errorf("%s is created whatever the capacity mode (condition %q)", id, r.Condition)
			}
			if r.Type == "AWS::ApplicationAutoScaling::ScalableTarget" {
				scaling[fmt.Sprint(r.Properties["ScalableDimension"])] = toString(r.Properties["ResourceId"])
			}
		}
	}
	// Every capacity that provisioned mode gives the table and its index
	// is scaled.
	for _, dim := range []string{"table:WriteCapacityUnits", "table:ReadCapacityUnits", "index:WriteCapacityUnits", "index:ReadCapacityUnits"} {
		if _, ok := scaling["dynamodb:"+dim]; !ok {
			t.Errorf("no autoscaling of dynamodb:%s", dim)
		}
	}
	for _, tt := range []struct {
		mode    map[string]string
		billing string
		// provisioned: the table and its index carry capacity.
		provisioned bool
	}{
		{nil, "PAY_PER_REQUEST", false},
		{map[string]string{"LedgerCapacity": "provisioned", "LedgerWriteCapacityMin": "7"}, "PROVISIONED", true},
	} {
		p, err := tpl.Properties("LedgerTable", tt.mode, anyRef)
		if err != nil {
			t.Fatal(err)
		}
		if p["BillingMode"] != tt.billing {
			t.Errorf("%v: billing %v, want %s", tt.mode, p["BillingMode"], tt.billing)
		}
		throughput := []any{p["ProvisionedThroughput"]}
		for _, g := range p["GlobalSecondaryIndexes"].([]any) {
			throughput = append(throughput, g.(map[string]any)["ProvisionedThroughput"])
		}
		for _, th := range throughput {
			switch {
			case !tt.provisioned && th != nil:
				t.Errorf("on demand, capacity %v is set", th)
			case tt.provisioned && (th == nil || fmt.Sprint(th.(map[string]any)["WriteCapacityUnits"]) != "7"):
				t.Errorf("provisioned with at least 7 write units, capacity %v", th)
			}
		}
	}
}
