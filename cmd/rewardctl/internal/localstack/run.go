// Package localstack runs rewardrelay on this machine as AWS would run it:
// the template's queues and ledger table in the local emulators, the very
// function handlers behind an emulation of API Gateway's HTTP API, Lambda's
// SQS event source mapping and the reconciler's schedule, and the platform
// simulator in place of FirstPromoter and AgentRef.
package localstack

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rewardrelay/rewardrelay/shared/simulator"
	"github.com/rewardrelay/rewardrelay/shared/stack"
	"github.com/rewardrelay/rewardrelay/shared/telemetry"
)

// StackFile is where a running local stack leaves its addresses (its API,
// queues, table and platform simulator) for the other rewardctl commands.
const StackFile = ".local/stack"

// Config is what Run needs.
type Config struct {
	// Template and EnvFile are template.yaml and events/env.json.
	Template, EnvFile string
	// Port is the local API's port (0: any free one).
	Port int
	// Stdout receives the banner.
	Stdout io.Writer
}

// Run runs the whole stack until ctx is done (make run).
func Run(ctx context.Context, cfg Config) error {
	if os.Getenv("AWS_ENDPOINT_URL_SQS") == "" || os.Getenv("AWS_ENDPOINT_URL_DYNAMODB") == "" {
		return fmt.Errorf("AWS_ENDPOINT_URL_SQS and AWS_ENDPOINT_URL_DYNAMODB must be set: start the local stack with make run, which starts the emulators")
	}
	tpl, err := stack.Load(cfg.Template)
	if err != nil {
		return err
	}
	settings, err := LoadSettings(cfg.EnvFile)
	if err != nil {
		return err
	}
	awsCfg, err := AWSConfig(ctx)
	if err != nil {
		return err
	}
	// The platforms: the simulator, unless their API URLs are set.
	platform := map[string]string{}
	stats := &Stats{}
	s := &Stack{
		Template: tpl,
		Stats:    stats,
		SQS:      sqs.NewFromConfig(awsCfg),
		DynamoDB: DynamoDB(awsCfg, stats.CountDynamoDB),
		Log:      telemetry.NewLogger(os.Stderr, settings.Get("LOG_LEVEL")),
		Prefix:   "rewardrelay",
		Get: func(key string) string {
			if v, ok := platform[key]; ok {
				return v
			}
			return settings.Get(key)
		},
	}
	if err := s.createQueues(ctx); err != nil {
		return fmt.Errorf("%w (is the SQS emulator at %s running?)", err, os.Getenv("AWS_ENDPOINT_URL_SQS"))
	}
	if err := s.createTable(ctx); err != nil {
		return fmt.Errorf("%w (is DynamoDB Local at %s running?)", err, os.Getenv("AWS_ENDPOINT_URL_DYNAMODB"))
	}
	// What other rewardctl commands need to reach this stack; platform
	// keys only when they are the simulator's.
	written := map[string]string{"QUEUE_URL": s.QueueURL, "DLQ_URL": s.DLQURL, "TABLE_NAME": s.Table}
	_, realFP := os.LookupEnv("FIRSTPROMOTER_API_URL")
	_, realAR := os.LookupEnv("AGENTREF_API_URL")
	if !realFP || !realAR {
		sim := simulator.New()
		seedSimulator(sim)
		srv := sim.Start()
		defer srv.Close()
		written["REWARDRELAY_SIMULATOR_URL"] = srv.URL
		if !realFP {
			platform["FIRSTPROMOTER_API_URL"], platform["FIRSTPROMOTER_API_KEY"], platform["FIRSTPROMOTER_ACCOUNT_ID"] = simulator.FirstPromoterURL(srv.URL), sim.APIKey, sim.AccountID
		}
		if !realAR {
			platform["AGENTREF_API_URL"], platform["AGENTREF_API_KEY"] = simulator.AgentRefURL(srv.URL), sim.AgentKey
		}
		maps.Copy(written, platform)
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", cfg.Port))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w (set PORT to use another)", cfg.Port, err)
	}
	written["REWARDRELAY_API_URL"] = "http://" + ln.Addr().String()
	if err := writeEnvFile(StackFile, written); err != nil {
		return fmt.Errorf("write %s: %w", StackFile, err)
	}
	defer os.Remove(StackFile)
	banner(cfg.Stdout, s, "http://"+ln.Addr().String())
	return s.Serve(ctx, ln)
}

// writeEnvFile writes KEY=value lines, readable by a shell's source.
func writeEnvFile(name string, vars map[string]string) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		fmt.Fprintf(&b, "%s=%s\n", k, vars[k])
	}
	return os.WriteFile(name, []byte(b.String()), 0o600)
}

// DynamoDB is a DynamoDB client for DynamoDB Local, whose CRC32 response
// checksums the SDK would otherwise warn about.
func DynamoDB(cfg aws.Config, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, append([]func(*dynamodb.Options){func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true }}, optFns...)...)
}

// seedSimulator gives the local FirstPromoter the commission the samples in
// events/ talk about: 41001, 500 points for promoter 1001, approved.
func seedSimulator(sim *simulator.Simulator) {
	sim.PutCommission(simulator.FPCommission{ID: 41001, Status: "approved", Unit: "points", Amount: 500, PromoterID: 1001, RewardID: 1, ReferralID: 9001, UID: "cust-9001"})
}

// AWSConfig is the SDK configuration for the emulators: endpoints come
// from AWS_ENDPOINT_URL_*, and credentials and region default to dummies.
func AWSConfig(ctx context.Context) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if os.Getenv("AWS_REGION") == "" {
		opts = append(opts, config.WithRegion("us-east-1"))
	}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("AWS configuration: %w", err)
	}
	return cfg, nil
}

func banner(w io.Writer, s *Stack, baseURL string) {
	fmt.Fprintf(w, `
rewardrelay is running locally.

  webhook URLs     %[1]s/webhooks/firstpromoter
                   %[1]s/webhooks/agentref
  event queue      %[2]s
  dead letters     %[3]s
  ledger table     %[6]s
  FirstPromoter    %[7]s
  AgentRef         %[8]s

  local secrets (events/env.json; override with the same variables):
    FIRSTPROMOTER_WEBHOOK_SECRETS=%[4]s
    AGENTREF_WEBHOOK_SECRETS=%[5]s

  send a first webhook, signed like the platform signs it, then look:
    go run ./cmd/rewardctl send events/firstpromoter-commission-approved.json --url %[1]s
    go run ./cmd/rewardctl send events/agentref-conversion-created.json --url %[1]s
    go run ./cmd/rewardctl balances

  drive realistic traffic through it and check the outcome, or measure it:
    go run ./cmd/rewardctl simulate
    go run ./cmd/rewardctl simulate --load

Ctrl-C stops everything.
`, baseURL, s.QueueURL, s.DLQURL, s.Get("FIRSTPROMOTER_WEBHOOK_SECRETS"), s.Get("AGENTREF_WEBHOOK_SECRETS"), s.Table, s.Get("FIRSTPROMOTER_API_URL"), s.Get("AGENTREF_API_URL"))
}
