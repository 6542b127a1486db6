// Package localstack runs rewardrelay on this machine as AWS would run it:
// the template's queues and ledger table in the local emulators, the very
// function handlers behind an emulation of API Gateway's HTTP API, Lambda's
// SQS event source mapping and the reconciler's schedule, and the platform
// simulator in place of FirstPromoter and AgentRef.
//
// A stack owns a directory (.local of the checkout by default): while it
// runs it holds the directory's lock and publishes its state there for the
// other rewardctl commands; it writes its logs under it. Stopping it (its
// context ends: a signal) stops everything it started and removes its
// state. A second stack never touches a running stack's directory.
package localstack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rewardrelay/rewardrelay/shared/simulator"
	"github.com/rewardrelay/rewardrelay/shared/stack"
	"github.com/rewardrelay/rewardrelay/shared/telemetry"
)

// Config is what Run needs.
type Config struct {
	// Checkout is the repository's root: template.yaml, events/env.json and
	// emulators/ are read from it.
	Checkout string
	// Dir is the stack's directory (Checkout/.local when empty).
	Dir string
	// Port is the local API's port (0: any free one).
	Port int
	// Emulators, when set, are used instead of starting DynamoDB Local and
	// the SQS emulator.
	Emulators *Endpoints
	// Prefix starts the queues' and the table's names ("rewardrelay" when
	// empty): stacks on shared emulators need their own.
	Prefix string
	// Stdout receives the banner and the stop's line.
	Stdout io.Writer
}

// The settings other commands need from a running stack, beside the
// platforms' addresses and keys.
var publishedSettings = []string{"FIRSTPROMOTER_WEBHOOK_SECRETS", "AGENTREF_WEBHOOK_SECRETS"}

// Run runs the whole stack until ctx is done (make run). A stop is not an
// error, even one during the start.
func Run(ctx context.Context, cfg Config) error {
	dir := cfg.Dir
	if dir == "" {
		dir = filepath.Join(cfg.Checkout, ".local")
	}
	stdout := cfg.Stdout
	if stdout == nil {
		stdout = io.Discard
	}
	// Nothing in dir is touched before the claim: a second stack leaves a
	// running one's files alone.
	claim, err := ClaimDir(dir)
	if err != nil {
		return err
	}
	defer claim.Release()
	tpl, err := stack.Load(filepath.Join(cfg.Checkout, "template.yaml"))
	if err != nil {
		return err
	}
	settings, err := LoadSettings(filepath.Join(cfg.Checkout, "events", "env.json"))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", cfg.Port))
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("port %d is in use, by another local stack or program: give this one another with PORT", cfg.Port)
		}
		return fmt.Errorf("listen on port %d: %w", cfg.Port, err)
	}
	defer ln.Close()
	if err := os.MkdirAll(claim.Path(logsName), 0o755); err != nil {
		return err
	}
	logPath := filepath.Join(claim.Path(logsName), "functions.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()

	// The stack stops when its emulators do: it is nothing without them.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	endpoints := cfg.Emulators
	if endpoints == nil {
		fmt.Fprintln(stdout, "Starting DynamoDB Local and the SQS emulator ...")
		emu, err := startEmulators(ctx, cfg.Checkout, claim.Path(endpointsName), claim.Path(logsName))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		defer emu.stop()
		go func() {
			select {
			case <-emu.done:
				cancel(fmt.Errorf("the emulators stopped (%s); see %s", emu.cmd.ProcessState, emu.log))
			case <-ctx.Done():
			}
		}()
		endpoints = &emu.Endpoints
	}
	stats := &Stats{}
	// The platforms: the simulator, unless their API URLs are set.
	platform := map[string]string{}
	s := &Stack{
		Template:   tpl,
		Stats:      stats,
		SQS:        SQS(*endpoints),
		DynamoDB:   DynamoDB(*endpoints, stats.CountDynamoDB),
		EventsDB:   DynamoDB(*endpoints),
		Streams:    Streams(*endpoints),
		EventsFile: claim.Path(eventsName),
		Log:        telemetry.NewLogger(logFile, settings.Get("LOG_LEVEL")),
		Prefix:     cmp.Or(cfg.Prefix, "rewardrelay"),
		Get: func(key string) string {
			if v, ok := platform[key]; ok {
				return v
			}
			return settings.Get(key)
		},
	}
	state := State{Dir: dir, PID: os.Getpid(), SQSEndpoint: endpoints.SQS, DynamoDBEndpoint: endpoints.DynamoDB, LogFile: logPath, EventsFile: s.EventsFile, Settings: map[string]string{}}
	_, realFP := os.LookupEnv("FIRSTPROMOTER_API_URL")
	_, realAR := os.LookupEnv("AGENTREF_API_URL")
	if !realFP || !realAR {
		sim := simulator.New()
		seedSimulator(sim)
		srv := sim.Start()
		defer srv.Close()
		state.SimulatorURL = srv.URL
		if !realFP {
			platform["FIRSTPROMOTER_API_URL"], platform["FIRSTPROMOTER_API_KEY"], platform["FIRSTPROMOTER_ACCOUNT_ID"] = simulator.FirstPromoterURL(srv.URL), sim.APIKey, sim.AccountID
		}
		if !realAR {
			platform["AGENTREF_API_URL"], platform["AGENTREF_API_KEY"] = simulator.AgentRefURL(srv.URL), sim.AgentKey
		}
		// Platform keys are published only when they are the simulator's.
		maps.Copy(state.Settings, platform)
	}
	for _, key := range []string{"FIRSTPROMOTER_API_URL", "AGENTREF_API_URL"} {
		state.Settings[key] = s.Get(key)
	}
	for _, key := range publishedSettings {
		state.Settings[key] = s.Get(key)
	}
	if err := s.createQueues(ctx); err != nil {
		if ctx.Err() != nil {
			return stopped(ctx)
		}
		return fmt.Errorf("%w (the SQS emulator at %s)", err, endpoints.SQS)
	}
	if err := s.createTable(ctx); err != nil {
		if ctx.Err() != nil {
			return stopped(ctx)
		}
		return fmt.Errorf("%w (DynamoDB Local at %s)", err, endpoints.DynamoDB)
	}
	state.APIURL = "http://" + ln.Addr().String()
	state.QueueURL, state.DLQURL, state.Table = s.QueueURL, s.DLQURL, s.Table
	if err := claim.WriteState(state); err != nil {
		return fmt.Errorf("write the stack's state in %s: %w", dir, err)
	}
	found := "rewardctl finds it from any directory of the checkout"
	if dir != filepath.Join(cfg.Checkout, ".local") {
		found = "rewardctl finds it with REWARDRELAY_LOCAL_DIR=" + dir
	}
	banner(stdout, s, state, found)
	if err := s.Serve(ctx, ln); err != nil {
		return err
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	fmt.Fprintln(stdout, "rewardrelay stopped: the emulators and the platform simulator are stopped, the stack's state is removed (logs stay in "+claim.Path(logsName)+").")
	return nil
}

// stopped is what Run returns when ctx ended during the start: nothing for
// a stop that was asked for, the reason for one that was not.
func stopped(ctx context.Context) error {
	if cause := context.Cause(ctx); !errors.Is(cause, context.Canceled) {
		return cause
	}
	return nil
}

// ClientConfig is the SDK configuration for the local emulators: dummy
// credentials and a fixed region, and nothing from the environment or an
// AWS profile, so that no real credential is ever sent to them.
func ClientConfig() aws.Config {
	return aws.Config{
		Region:                     "us-east-1",
		Credentials:                credentials.NewStaticCredentialsProvider("local", "local", ""),
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
}

// SQS is a client of the SQS emulator at e.SQS.
func SQS(e Endpoints) *sqs.Client {
	return sqs.NewFromConfig(ClientConfig(), func(o *sqs.Options) { o.BaseEndpoint = aws.String(e.SQS) })
}

// DynamoDB is a client of DynamoDB Local at e.DynamoDB, whose CRC32
// response checksums the SDK would otherwise warn about.
func DynamoDB(e Endpoints, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.NewFromConfig(ClientConfig(), append([]func(*dynamodb.Options){func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(e.DynamoDB)
		o.DisableValidateResponseChecksum = true
	}}, optFns...)...)
}

// Streams is a client of DynamoDB Local's streams at e.DynamoDB.
func Streams(e Endpoints) *dynamodbstreams.Client {
	return dynamodbstreams.NewFromConfig(ClientConfig(), func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(e.DynamoDB) })
}

// seedSimulator gives the local FirstPromoter the commission the samples in
// events/ talk about: 41001, 500 points for promoter 1001 (cust_id
// cus_1001), approved.
func seedSimulator(sim *simulator.Simulator) {
	sim.PutCommission(simulator.FPCommission{ID: 41001, Status: "approved", Unit: "points", Amount: 500, PromoterID: 1001, RewardID: 1, ReferralID: 9001, UID: "cust-9001"})
	// The merchant's own id of the promoter: the events' merchant_user_id.
	sim.SetCustID(1001, "cus_1001")
}

func banner(w io.Writer, s *Stack, st State, found string) {
	fmt.Fprintf(w, `
rewardrelay is running locally (pid %[11]d).

  webhook URLs     %[1]s/webhooks/firstpromoter
                   %[1]s/webhooks/agentref
  Rewards API      %[1]s/v1 (no IAM here: the actor is "local")
  event queue      %[2]s
  dead letters     %[3]s
  ledger table     %[6]s
  DynamoDB Local   %[9]s
  SQS emulator     %[10]s
  FirstPromoter    %[7]s
  AgentRef         %[8]s
  function logs    %[12]s (LOG_LEVEL=%[13]s)
  reward events    %[16]s (rewardctl events --follow)
  state            %[14]s (%[15]s)

  local secrets (events/env.json; override with the same variables):
    FIRSTPROMOTER_WEBHOOK_SECRETS=%[4]s
    AGENTREF_WEBHOOK_SECRETS=%[5]s

  send a first webhook, signed like the platform signs it, then look:
    go run ./cmd/rewardctl send events/firstpromoter-commission-approved.json
    go run ./cmd/rewardctl send events/agentref-conversion-created.json
    go run ./cmd/rewardctl balances

  drive realistic traffic through it and check the outcome, or measure it:
    go run ./cmd/rewardctl simulate
    go run ./cmd/rewardctl simulate --load

Ctrl-C (or SIGTERM, SIGHUP) stops everything.
`, st.APIURL, s.QueueURL, s.DLQURL, s.Get("FIRSTPROMOTER_WEBHOOK_SECRETS"), s.Get("AGENTREF_WEBHOOK_SECRETS"), s.Table,
		s.Get("FIRSTPROMOTER_API_URL"), s.Get("AGENTREF_API_URL"), st.DynamoDBEndpoint, st.SQSEndpoint, st.PID,
		st.LogFile, telemetry.ParseLevel(s.Get("LOG_LEVEL")), filepath.Join(st.Dir, stateName), found, st.EventsFile)
}
