package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rewardrelay/rewardrelay/cmd/rewardctl/internal/localstack"
	"github.com/rewardrelay/rewardrelay/shared/dynamo"
	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// localEndpointsFile is where make run leaves the emulators' endpoints, and
// localStackFile the local stack's own addresses (its API, queues, table and
// platform simulator), while they run.
const (
	localEndpointsFile = ".local/endpoints"
	localStackFile     = localstack.StackFile
)

// target is the stack a command works on: the local one when make run is
// running (or AWS_ENDPOINT_URL_DYNAMODB is set), else AWS with the usual
// credentials and TABLE_NAME.
type target struct {
	local bool
	cfg   aws.Config
	db    *dynamodb.Client
	table string
}

// useLocalEndpoints exports what the running local stack wrote down, for
// every variable the environment leaves unset; it reports whether the
// target is local.
func useLocalEndpoints() (bool, error) {
	local := os.Getenv("AWS_ENDPOINT_URL_DYNAMODB") != ""
	for _, name := range []string{localEndpointsFile, localStackFile} {
		found, err := exportUnset(name)
		if err != nil {
			return false, fmt.Errorf("read %s: %w", name, err)
		}
		local = local || found
	}
	return local, nil
}

// exportUnset sets the KEY=value lines of a file the environment does not
// set; found is false when the file does not exist.
func exportUnset(name string) (found bool, err error) {
	f, err := os.Open(name)
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			if _, set := os.LookupEnv(k); !set {
				os.Setenv(k, v)
			}
		}
	}
	return true, sc.Err()
}

func openTarget(ctx context.Context) (*target, error) {
	local, err := useLocalEndpoints()
	if err != nil {
		return nil, err
	}
	t := &target{local: local, table: os.Getenv("TABLE_NAME")}
	if local {
		cfg, err := localstack.AWSConfig(ctx)
		if err != nil {
			return nil, err
		}
		t.cfg, t.db = cfg, localstack.DynamoDB(cfg)
		if t.table == "" {
			t.table = "rewardrelay-ledger"
		}
		return t, nil
	}
	if t.table == "" {
		return nil, fmt.Errorf("TABLE_NAME is not set: give the ledger table (the stack's LedgerTableName output), or start the local stack with make run")
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	t.cfg, t.db = cfg, dynamodb.NewFromConfig(cfg)
	return t, nil
}

func (t *target) store() *dynamo.Store { return &dynamo.Store{Client: t.db, Table: t.table} }

// check fails clearly when the table cannot be reached.
func (t *target) check(ctx context.Context) error {
	_, err := t.db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(t.table)})
	if err != nil {
		where := "AWS"
		if t.local {
			where = "the local stack (" + os.Getenv("AWS_ENDPOINT_URL_DYNAMODB") + ")"
		}
		return fmt.Errorf("table %s in %s: %w (missing table, wrong credentials or endpoint unreachable?)", t.table, where, err)
	}
	return nil
}

// openLedger opens the target stack and checks that its table answers.
func openLedger(ctx context.Context) (*target, error) {
	t, err := openTarget(ctx)
	if err != nil {
		return nil, err
	}
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// ledger reads the whole ledger of the target stack.
func ledger(ctx context.Context) (reward.Ledger, error) {
	t, err := openLedger(ctx)
	if err != nil {
		return reward.Ledger{}, err
	}
	return t.store().Ledger(ctx)
}
