package stack

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const templatePath = "../../template.yaml"

func load(t *testing.T) *Template {
	t.Helper()
	tpl, err := Load(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// walk calls f on every map in v, depth first.
func walk(v any, f func(map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		f(v)
		for _, item := range v {
			walk(item, f)
		}
	case []any:
		for _, item := range v {
			walk(item, f)
		}
	}
}

func TestParseTurnsShortFormIntoLongForm(t *testing.T) {
	tpl, err := Parse([]byte(`
Resources:
  Q:
    Type: AWS::SQS::Queue
    Properties:
      A: !Ref P
      B: !GetAtt D.Arn
      C: !Sub "x-${AWS::Region}"
      E: !If [Cond, !Ref P, !Ref AWS::NoValue]
      F: !Join ["", [a, !Ref P]]
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"A": map[string]any{"Ref": "P"},
		"B": map[string]any{"Fn::GetAtt": []any{"D", "Arn"}},
		"C": map[string]any{"Fn::Sub": "x-${AWS::Region}"},
		"E": map[string]any{"Fn::If": []any{"Cond", map[string]any{"Ref": "P"}, map[string]any{"Ref": "AWS::NoValue"}}},
		"F": map[string]any{"Fn::Join": []any{"", []any{"a", map[string]any{"Ref": "P"}}}},
	}
	if diff := cmp.Diff(want, tpl.Resources["Q"].Properties); diff != "" {
		t.Errorf("properties (-want +got):\n%s", diff)
	}
}

func TestParseRefusesABadGetAtt(t *testing.T) {
	if _, err := Parse([]byte("Resources:\n  Q:\n    Properties:\n      A: !GetAtt NoDot\n")); err == nil {
		t.Error("Parse accepted !GetAtt without an attribute")
	}
}

var pseudo = map[string]bool{
	"AWS::AccountId": true, "AWS::NoValue": true, "AWS::Partition": true, "AWS::Region": true,
	"AWS::StackId": true, "AWS::StackName": true, "AWS::URLSuffix": true,
}

// TestTemplateReferencesResolve checks every Ref, GetAtt, ${} in Sub and
// condition name against what the template declares.
func TestTemplateReferencesResolve(t *testing.T) {
	tpl := load(t)
	exists := func(name string) bool {
		_, param := tpl.Parameters[name]
		_, res := tpl.Resources[name]
		return param || res || pseudo[name]
	}
	subVar := regexp.MustCompile(`\$\{([^}!]+)\}`)
	check := func(where string, v any) {
		walk(v, func(m map[string]any) {
			if name, ok := m["Ref"].(string); ok && !exists(name) {
				t.Errorf("%s: Ref %s names nothing", where, name)
			}
			if args, ok := m["Fn::GetAtt"].([]any); ok {
				if _, ok := tpl.Resources[args[0].(string)]; !ok {
					t.Errorf("%s: GetAtt %v names no resource", where, args)
				}
			}
			if s, ok := m["Fn::Sub"].(string); ok {
				for _, match := range subVar.FindAllStringSubmatch(s, -1) {
					name, _, _ := strings.Cut(match[1], ".")
					if !exists(name) {
						t.Errorf("%s: Sub ${%s} names nothing", where, match[1])
					}
				}
			}
			if args, ok := m["Fn::If"].([]any); ok {
				if _, ok := tpl.Conditions[args[0].(string)]; !ok {
					t.Errorf("%s: Fn::If on undeclared condition %v", where, args[0])
				}
			}
		})
	}
	for id, r := range tpl.Resources {
		check(id, r.Properties)
		if r.Condition != "" {
			if _, ok := tpl.Conditions[r.Condition]; !ok {
				t.Errorf("%s: condition %s is not declared", id, r.Condition)
			}
		}
	}
	check("Outputs", tpl.Outputs)
	check("Globals", tpl.Globals)
	check("Conditions", tpl.Conditions)
}

// TestFunctionsBuildWithTheMakefile checks that every function is built by a
// Makefile target of its logical id, from a package that exists.
func TestFunctionsBuildWithTheMakefile(t *testing.T) {
	tpl := load(t)
	makefile, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	functions := 0
	for id, r := range tpl.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		functions++
		if got := r.Metadata["BuildMethod"]; got != "makefile" {
			t.Errorf("%s: BuildMethod %v, want makefile", id, got)
		}
		target := regexp.MustCompile(`(?m)^build-` + id + `:\n\t.*-o \$\(ARTIFACTS_DIR\)/bootstrap \./(functions/\w+)$`)
		m := target.FindSubmatch(makefile)
		if m == nil {
			t.Errorf("%s: no Makefile target build-%s building $(ARTIFACTS_DIR)/bootstrap", id, id)
			continue
		}
		if _, err := os.Stat(filepath.Join("../..", string(m[1]), "main.go")); err != nil {
			t.Errorf("%s: builds %s, which has no main.go", id, m[1])
		}
	}
	if functions == 0 {
		t.Fatal("the template declares no function")
	}
}

func TestWebhookRoute(t *testing.T) {
	tpl := load(t)
	fn, ok := tpl.Resources["WebhookFunction"]
	if !ok {
		t.Fatal("no WebhookFunction")
	}
	events := fn.Properties["Events"].(map[string]any)
	var routes []string
	for _, e := range events {
		e := e.(map[string]any)
		p := e["Properties"].(map[string]any)
		routes = append(routes, e["Type"].(string)+" "+p["Method"].(string)+" "+p["Path"].(string)+" "+p["PayloadFormatVersion"].(string))
	}
	if diff := cmp.Diff([]string{"HttpApi POST /webhooks/{provider} 2.0"}, routes); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
}

func TestQueuesAsDeployed(t *testing.T) {
	tpl := load(t)
	refs := func(id string) (string, bool) { return "arn:local:" + id, true }
	q, err := tpl.QueueAttributes("EventQueue", refs)
	if err != nil {
		t.Fatal(err)
	}
	var redrive struct {
		DeadLetterTargetArn string `json:"deadLetterTargetArn"`
		MaxReceiveCount     int    `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(q["RedrivePolicy"]), &redrive); err != nil {
		t.Fatalf("RedrivePolicy %q: %v", q["RedrivePolicy"], err)
	}
	if redrive.DeadLetterTargetArn != "arn:local:DeadLetterQueue.Arn" || redrive.MaxReceiveCount != 5 {
		t.Errorf("redrive %+v, want DeadLetterQueue after 5 receives", redrive)
	}
	dlq, err := tpl.QueueAttributes("DeadLetterQueue", refs)
	if err != nil {
		t.Fatal(err)
	}
	if dlq["MessageRetentionPeriod"] != "1209600" {
		t.Errorf("DLQ retention %s, want 14 days", dlq["MessageRetentionPeriod"])
	}
	for name, attrs := range map[string]map[string]string{"EventQueue": q, "DeadLetterQueue": dlq} {
		if attrs["SqsManagedSseEnabled"] != "true" {
			t.Errorf("%s: server-side encryption is off", name)
		}
		if attrs["MaximumMessageSize"] != "1048576" {
			t.Errorf("%s: MaximumMessageSize %s cannot carry a 256 KiB body with its attributes", name, attrs["MaximumMessageSize"])
		}
	}
}

// TestVisibilityTimeoutCoversConsumers holds the queue's visibility timeout
// to at least six times the timeout of every function it triggers.
func TestVisibilityTimeoutCoversConsumers(t *testing.T) {
	tpl := load(t)
	props, err := tpl.Properties("EventQueue", nil, func(string) (string, bool) { return "x", true })
	if err != nil {
		t.Fatal(err)
	}
	visibility := toInt(t, props["VisibilityTimeout"])
	for id, r := range tpl.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		events, _ := r.Properties["Events"].(map[string]any)
		for _, e := range events {
			e := e.(map[string]any)
			if e["Type"] != "SQS" {
				continue
			}
			p, err := tpl.Properties(id, nil, func(string) (string, bool) { return "x", true })
			if err != nil {
				t.Fatal(err)
			}
			if timeout := toInt(t, p["Timeout"]); visibility < 6*timeout {
				t.Errorf("EventQueue visibility %ds < 6 x %s timeout %ds", visibility, id, timeout)
			}
		}
	}
}

func toInt(t *testing.T, v any) int {
	t.Helper()
	var n int
	if err := json.Unmarshal([]byte(strings.Trim(strings.TrimSpace(toString(v)), `"`)), &n); err != nil {
		t.Fatalf("%v is not a number", v)
	}
	return n
}

func toString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestLeastPrivilegeForTheWebhookFunction(t *testing.T) {
	tpl := load(t)
	var got []string
	for _, p := range tpl.Resources["WebhookFunction"].Properties["Policies"].([]any) {
		walk(p, func(m map[string]any) {
			for k := range m {
				if strings.HasSuffix(k, "Policy") {
					got = append(got, k)
				}
			}
		})
	}
	if diff := cmp.Diff([]string{"SQSSendMessagePolicy", "AWSSecretsManagerGetSecretValuePolicy"}, got); diff != "" {
		t.Errorf("WebhookFunction policies (-want +got):\n%s", diff)
	}
}

func TestOutputs(t *testing.T) {
	tpl := load(t)
	for _, name := range []string{"FirstPromoterWebhookURL", "AgentRefWebhookURL", "QueueURL", "DeadLetterQueueURL"} {
		if _, ok := tpl.Outputs[name]; !ok {
			t.Errorf("no output %s", name)
		}
	}
}

func TestResolve(t *testing.T) {
	tpl := load(t)
	refs := func(id string) (string, bool) { return "local-" + id, true }
	p, err := tpl.Properties("WebhookFunction", map[string]string{"WebhookSecretArn": ""}, refs)
	if err != nil {
		t.Fatal(err)
	}
	env := p["Environment"].(map[string]any)["Variables"].(map[string]any)
	if env["QUEUE_URL"] != "local-EventQueue" || env["AGENTREF_ENVIRONMENT"] != "production" {
		t.Errorf("environment %v", env)
	}
	if n := len(p["Policies"].([]any)); n != 1 {
		t.Errorf("with no secret, %d policies remain, want 1 (the secret policy is dropped)", n)
	}
	p, err = tpl.Properties("WebhookFunction", map[string]string{"WebhookSecretArn": "arn:s"}, refs)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(p["Policies"].([]any)); n != 2 {
		t.Errorf("with a secret, %d policies, want 2", n)
	}
	p, err = tpl.Properties("WebhookFunction", map[string]string{"WebhookSecretArn": "arn:s", "SecretsKmsKeyArn": "arn:k"}, refs)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(p["Policies"].([]any)); n != 3 {
		t.Errorf("with a secret and its KMS key, %d policies, want 3", n)
	}
}

func TestLedgerTable(t *testing.T) {
	tpl := load(t)
	r := tpl.Resources["LedgerTable"]
	if r.DeletionPolicy != "Retain" || r.UpdateReplacePolicy != "Retain" {
		t.Errorf("LedgerTable policies %q/%q, want Retain/Retain", r.DeletionPolicy, r.UpdateReplacePolicy)
	}
	if toString(r.Properties["PointInTimeRecoverySpecification"]) != `{"PointInTimeRecoveryEnabled":true}` {
		t.Errorf("point-in-time recovery is off")
	}
	if r.Properties["DeletionProtectionEnabled"] != true {
		t.Errorf("LedgerTable can be deleted (DeletionProtectionEnabled %v)", r.Properties["DeletionProtectionEnabled"])
	}
	if p, err := tpl.Properties("LedgerTable", nil, anyRef); err != nil || p["BillingMode"] != "PAY_PER_REQUEST" || toString(r.Properties["SSESpecification"]) != `{"SSEEnabled":true}` {
		t.Errorf("billing %v (%v), SSE %v", p["BillingMode"], err, r.Properties["SSESpecification"])
	}
	in, ttl, err := tpl.Table("LedgerTable", "t")
	if err != nil {
		t.Fatal(err)
	}
	var indexes []string
	for _, g := range in.GlobalSecondaryIndexes {
		indexes = append(indexes, *g.IndexName)
	}
	if ttl != "expires_at" || len(in.KeySchema) != 2 || strings.Join(indexes, ",") != "outbox,recipient,holds" {
		t.Errorf("table %+v ttl %q indexes %v", in, ttl, indexes)
	}
}

func TestProcessorEventSource(t *testing.T) {
	tpl := load(t)
	fn := tpl.Resources["ProcessorFunction"]
	q := fn.Properties["Events"].(map[string]any)["Queue"].(map[string]any)["Properties"].(map[string]any)
	if toString(q["FunctionResponseTypes"]) != `["ReportBatchItemFailures"]` {
		t.Errorf("FunctionResponseTypes %v", q["FunctionResponseTypes"])
	}
	if _, ok := q["ScalingConfig"].(map[string]any)["MaximumConcurrency"]; !ok {
		t.Error("no MaximumConcurrency")
	}
	var got []string
	for _, p := range fn.Properties["Policies"].([]any) {
		walk(p, func(m map[string]any) {
			for k := range m {
				if strings.HasSuffix(k, "Policy") {
					got = append(got, k)
				}
			}
		})
	}
	if diff := cmp.Diff([]string{"AWSSecretsManagerGetSecretValuePolicy"}, got); diff != "" {
		t.Errorf("ProcessorFunction policies (-want +got):\n%s", diff)
	}
}
