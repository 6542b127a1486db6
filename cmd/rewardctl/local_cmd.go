package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/spf13/cobra"

	"github.com/rewardrelay/rewardrelay/shared/simulator"
	"github.com/rewardrelay/rewardrelay/shared/stack"
	"github.com/rewardrelay/rewardrelay/shared/telemetry"
)

func localCommand(opts *options) *cobra.Command {
	port := 3000
	if p, err := strconv.Atoi(os.Getenv("PORT")); err == nil {
		port = p
	}
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run the whole stack on this machine against the local emulators (make run)",
		Long: `Creates the template's queues in the SQS emulator and serves the webhook
function on 127.0.0.1 like API Gateway would. Start it with make run, which
starts the emulators and sets AWS_ENDPOINT_URL_SQS.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLocal(cmd.Context(), opts, port)
		},
	}
	cmd.Flags().IntVar(&port, "port", port, "HTTP port of the local API (default from PORT, else 3000)")
	return cmd
}

func runLocal(ctx context.Context, opts *options, port int) error {
	if os.Getenv("AWS_ENDPOINT_URL_SQS") == "" || os.Getenv("AWS_ENDPOINT_URL_DYNAMODB") == "" {
		return fmt.Errorf("AWS_ENDPOINT_URL_SQS and AWS_ENDPOINT_URL_DYNAMODB must be set: start the local stack with make run, which starts the emulators")
	}
	tpl, err := stack.Load(opts.template)
	if err != nil {
		return err
	}
	settings, err := loadLocalDefaults(opts.envFile)
	if err != nil {
		return err
	}
	cfg, err := localAWSConfig(ctx)
	if err != nil {
		return err
	}
	stats := &localStats{}
	s := &localStack{
		tpl:       tpl,
		stats:     stats,
		sqs:       sqs.NewFromConfig(cfg),
		db:        localDynamoDB(cfg, stats.countDynamoDB),
		settings:  settings,
		log:       telemetry.NewLogger(os.Stderr, settings.get("LOG_LEVEL")),
		prefix:    "rewardrelay",
		fpURL:     settings.get("FIRSTPROMOTER_API_URL"),
		fpKey:     settings.get("FIRSTPROMOTER_API_KEY"),
		fpAccount: settings.get("FIRSTPROMOTER_ACCOUNT_ID"),
		arURL:     settings.get("AGENTREF_API_URL"),
		arKey:     settings.get("AGENTREF_API_KEY"),
	}
	if err := s.createQueues(ctx); err != nil {
		return fmt.Errorf("%w (is the SQS emulator at %s running?)", err, os.Getenv("AWS_ENDPOINT_URL_SQS"))
	}
	if err := s.createTable(ctx); err != nil {
		return fmt.Errorf("%w (is DynamoDB Local at %s running?)", err, os.Getenv("AWS_ENDPOINT_URL_DYNAMODB"))
	}
	// What other rewardctl commands need to reach this stack; platform
	// keys only when they are the simulator's.
	written := map[string]string{"QUEUE_URL": s.queueURL, "DLQ_URL": s.dlqURL, "TABLE_NAME": s.table}
	_, realFP := os.LookupEnv("FIRSTPROMOTER_API_URL")
	_, realAR := os.LookupEnv("AGENTREF_API_URL")
	if !realFP || !realAR {
		sim := simulator.New()
		seedSimulator(sim)
		srv := sim.Start()
		defer srv.Close()
		written["REWARDRELAY_SIMULATOR_URL"] = srv.URL
		if !realFP {
			s.fpURL, s.fpKey, s.fpAccount = simulator.FirstPromoterURL(srv.URL), sim.APIKey, sim.AccountID
			written["FIRSTPROMOTER_API_URL"], written["FIRSTPROMOTER_API_KEY"], written["FIRSTPROMOTER_ACCOUNT_ID"] = s.fpURL, s.fpKey, s.fpAccount
		}
		if !realAR {
			s.arURL, s.arKey = simulator.AgentRefURL(srv.URL), sim.AgentKey
			written["AGENTREF_API_URL"], written["AGENTREF_API_KEY"] = s.arURL, s.arKey
		}
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w (set PORT to use another)", port, err)
	}
	written["REWARDRELAY_API_URL"] = "http://" + ln.Addr().String()
	if err := writeEnvFile(localStackFile, written); err != nil {
		return fmt.Errorf("write %s: %w", localStackFile, err)
	}
	defer os.Remove(localStackFile)
	s.banner(os.Stdout, "http://"+ln.Addr().String())
	return s.serve(ctx, ln)
}

// localDynamoDB is a DynamoDB client for DynamoDB Local, whose CRC32
// response checksums the SDK would otherwise warn about.
func localDynamoDB(cfg aws.Config, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, append([]func(*dynamodb.Options){func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true }}, optFns...)...)
}

// seedSimulator gives the local FirstPromoter the commission the samples in
// events/ talk about: 41001, 500 points for promoter 1001, approved.
func seedSimulator(sim *simulator.Simulator) {
	sim.PutCommission(simulator.FPCommission{ID: 41001, Status: "approved", Unit: "points", Amount: 500, PromoterID: 1001, RewardID: 1, ReferralID: 9001, UID: "cust-9001"})
}

// localAWSConfig is the SDK configuration for the emulators: endpoints come
// from AWS_ENDPOINT_URL_*, and credentials and region default to dummies.
func localAWSConfig(ctx context.Context) (aws.Config, error) {
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
