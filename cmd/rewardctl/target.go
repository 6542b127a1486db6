package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rewardrelay/rewardrelay/cmd/rewardctl/internal/localstack"
	"github.com/rewardrelay/rewardrelay/shared/dynamo"
	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// The two targets a command can work on. Which one is always an explicit
// choice (--local, --aws or REWARDRELAY_TARGET), local by default: a
// command never turns to AWS because the local stack is not there.
const (
	targetLocal = "local"
	targetAWS   = "aws"
)

// targetKind is the chosen target: the flags, else REWARDRELAY_TARGET,
// else local.
func (o *options) targetKind() (string, error) {
	switch {
	case o.aws && o.local:
		return "", errors.New("--aws and --local exclude each other")
	case o.aws:
		return targetAWS, nil
	case o.local:
		return targetLocal, nil
	}
	switch v := os.Getenv("REWARDRELAY_TARGET"); v {
	case "", targetLocal:
		return targetLocal, nil
	case targetAWS:
		return targetAWS, nil
	default:
		return "", fmt.Errorf("REWARDRELAY_TARGET=%q: it is local or aws", v)
	}
}

// checkout finds the repository's root from the working directory: the
// nearest directory, there or above, with template.yaml and emulators/.
func checkout() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if isCheckout(dir) {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("%s is not inside a rewardrelay checkout (no template.yaml beside emulators/ there or in a parent directory)", wd)
		}
	}
}

func isCheckout(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, "template.yaml")); err != nil {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, "emulators", "run.js"))
	return err == nil
}

// inCheckout is path when given, else name in the checkout.
func inCheckout(path, name string) (string, error) {
	if path != "" {
		return path, nil
	}
	root, err := checkout()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, name), nil
}

func (o *options) templatePath() (string, error) { return inCheckout(o.template, "template.yaml") }
func (o *options) envFilePath() (string, error) {
	return inCheckout(o.envFile, filepath.Join("events", "env.json"))
}

// localDir is the local stack's directory: --local-dir, else
// REWARDRELAY_LOCAL_DIR, else .local of the checkout.
func (o *options) localDir() (string, error) {
	if o.localDirFlag != "" {
		return filepath.Abs(o.localDirFlag)
	}
	if v := os.Getenv("REWARDRELAY_LOCAL_DIR"); v != "" {
		return filepath.Abs(v)
	}
	root, err := checkout()
	if err != nil {
		return "", fmt.Errorf("no local stack to find: %w; run the command from the checkout, set REWARDRELAY_LOCAL_DIR, or choose AWS with --aws", err)
	}
	return filepath.Join(root, ".local"), nil
}

// localState is the running local stack's state, or an error that says
// where it looked and what to do.
func (o *options) localState() (localstack.State, error) {
	dir, err := o.localDir()
	if err != nil {
		return localstack.State{}, err
	}
	st, err := localstack.Open(dir)
	if errors.Is(err, localstack.ErrNotRunning) {
		return st, fmt.Errorf("%w: start it with make run, or choose AWS with --aws (or REWARDRELAY_TARGET=aws)", err)
	}
	return st, err
}

// target is the stack a command works on.
type target struct {
	kind string
	// local is the local stack's state (kind local).
	local localstack.State
	cfg   aws.Config
	db    *dynamodb.Client
	sqs   *sqs.Client
	table string
	// queueURL and dlqURL are the event queue and its dead-letter queue.
	queueURL, dlqURL string
}

func openTarget(ctx context.Context, o *options) (*target, error) {
	kind, err := o.targetKind()
	if err != nil {
		return nil, err
	}
	if kind == targetLocal {
		st, err := o.localState()
		if err != nil {
			return nil, err
		}
		// A client without an endpoint would go to AWS.
		if st.SQSEndpoint == "" || st.DynamoDBEndpoint == "" {
			return nil, fmt.Errorf("the local stack's state in %s names no emulator endpoints: stop it and start it again with make run", st.Dir)
		}
		e := localstack.Endpoints{SQS: st.SQSEndpoint, DynamoDB: st.DynamoDBEndpoint}
		return &target{kind: kind, local: st, cfg: localstack.ClientConfig(), db: localstack.DynamoDB(e), sqs: localstack.SQS(e),
			table: st.Table, queueURL: st.QueueURL, dlqURL: st.DLQURL}, nil
	}
	t := &target{kind: kind, table: os.Getenv("TABLE_NAME"), queueURL: os.Getenv("QUEUE_URL"), dlqURL: os.Getenv("DLQ_URL")}
	if t.table == "" {
		return nil, fmt.Errorf("TABLE_NAME is not set: give the ledger table (the stack's LedgerTableName output)")
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	t.cfg, t.db, t.sqs = cfg, dynamodb.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	return t, nil
}

// where names the target in messages.
func (t *target) where() string {
	if t.kind == targetLocal {
		return fmt.Sprintf("the local stack of %s (DynamoDB Local at %s)", t.local.Dir, t.local.DynamoDBEndpoint)
	}
	if ep := os.Getenv("AWS_ENDPOINT_URL_DYNAMODB"); ep != "" {
		return "AWS at " + ep
	}
	return "AWS"
}

func (t *target) store() *dynamo.Store { return &dynamo.Store{Client: t.db, Table: t.table} }

// check fails clearly when the table cannot be reached.
func (t *target) check(ctx context.Context) error {
	_, err := t.db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(t.table)})
	if err != nil {
		return fmt.Errorf("table %s in %s: %w (missing table, wrong credentials or endpoint unreachable?)", t.table, t.where(), err)
	}
	return nil
}

// openLedger opens the target stack and checks that its table answers.
func openLedger(ctx context.Context, o *options) (*target, error) {
	t, err := openTarget(ctx, o)
	if err != nil {
		return nil, err
	}
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// ledger reads the whole ledger of the target stack.
func ledger(ctx context.Context, o *options) (reward.Ledger, error) {
	t, err := openLedger(ctx, o)
	if err != nil {
		return reward.Ledger{}, err
	}
	return t.store().Ledger(ctx)
}

// queues are the event queue and its dead-letter queue: the local stack's,
// or QUEUE_URL and DLQ_URL (the stack's outputs) in AWS.
func (t *target) queues() (queueURL, dlqURL string, err error) {
	if t.queueURL == "" || t.dlqURL == "" {
		return "", "", errors.New("QUEUE_URL and DLQ_URL must be set (the stack's QueueURL and DeadLetterQueueURL outputs)")
	}
	return t.queueURL, t.dlqURL, nil
}

// settings reads the functions' settings for a command that runs their
// code (reconcile) or signs like a platform (send, simulate): against the
// local stack, what the stack runs with, then the environment, then
// events/env.json.
func (o *options) localSettings(st localstack.State) (func(string) string, error) {
	path, err := o.envFilePath()
	if err != nil {
		return nil, err
	}
	settings, err := localstack.LoadSettings(path)
	if err != nil {
		return nil, err
	}
	return func(key string) string {
		if v, ok := st.Settings[key]; ok {
			return v
		}
		return settings.Get(key)
	}, nil
}
