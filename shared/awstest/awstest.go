// Package awstest connects integration tests to the local AWS emulators that
// `make test` starts (DynamoDB Local and the SQS emulator).
//
// A test that needs an emulator whose endpoint variable is unset skips, so
// `go test ./...` works anywhere; under CI=true it fails instead, so a
// missing emulator can never turn into a silently green run. A test that
// runs against an emulator logs it (make test counts them).
package awstest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rewardrelay/rewardrelay/shared/stack"
)

// Endpoint variables, as the AWS SDK reads them.
const (
	SQSEndpoint      = "AWS_ENDPOINT_URL_SQS"
	DynamoDBEndpoint = "AWS_ENDPOINT_URL_DYNAMODB"
)

// emulatorNames name the emulator behind each endpoint variable.
var emulatorNames = map[string]string{DynamoDBEndpoint: "DynamoDB Local", SQSEndpoint: "the SQS emulator"}

// Require returns the emulator endpoint in variable, skipping the test when
// it is unset outside CI and failing it under CI. It logs the emulator the
// test uses ("awstest: uses DynamoDB Local at ...").
func Require(t testing.TB, variable string) string {
	t.Helper()
	v := os.Getenv(variable)
	if v != "" {
		t.Logf("awstest: uses %s at %s", emulatorNames[variable], v)
		return v
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not set under CI: run the tests with `make test`, which starts the emulators", variable)
	}
	t.Skipf("%s is not set: run `make test` to start the emulators", variable)
	return ""
}

// SkipNote is the one line a test run without the emulators (outside CI)
// owes a person: the integration tests skipped, and how to run them. It is
// empty when the emulators' endpoints are set or under CI (where the tests
// fail instead).
func SkipNote(getenv func(string) string) string {
	if getenv("CI") != "" {
		return ""
	}
	var missing []string
	for _, v := range []string{DynamoDBEndpoint, SQSEndpoint} {
		if getenv(v) == "" {
			missing = append(missing, v)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("integration tests skipped: %s not set; make test runs them against DynamoDB Local and the SQS emulator", strings.Join(missing, " and "))
}

// Config is an AWS configuration for the emulators: fixed credentials and
// region, and no response checksum validation (DynamoDB Local's checksums
// make the SDK warn).
func Config(t testing.TB) aws.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	)
	if err != nil {
		t.Fatalf("load AWS config: %v", err)
	}
	return cfg
}

// SQS returns a client of the SQS emulator.
func SQS(t testing.TB) *sqs.Client {
	t.Helper()
	Require(t, SQSEndpoint)
	return sqs.NewFromConfig(Config(t))
}

// DynamoDB returns a client of DynamoDB Local.
func DynamoDB(t testing.TB) *dynamodb.Client {
	t.Helper()
	Require(t, DynamoDBEndpoint)
	return dynamodb.NewFromConfig(Config(t), func(o *dynamodb.Options) {
		// DynamoDB Local's CRC32 response checksums do not match what the
		// SDK computes.
		o.DisableValidateResponseChecksum = true
	})
}

// Streams returns a client of DynamoDB Local's streams (the same endpoint).
func Streams(t testing.TB) *dynamodbstreams.Client {
	t.Helper()
	endpoint := Require(t, DynamoDBEndpoint)
	return dynamodbstreams.NewFromConfig(Config(t), func(o *dynamodbstreams.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	})
}

var seq atomic.Int64

// Name returns a resource name unique to this test run, for queues and tables.
func Name(t testing.TB, prefix string) string {
	n := seq.Add(1)
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, t.Name())
	if len(clean) > 40 {
		clean = clean[:40]
	}
	return fmt.Sprintf("%s-%s-%d-%d", prefix, clean, time.Now().UnixNano()%1e9, n)
}

// Table creates a ledger table in DynamoDB Local exactly as template.yaml
// defines LedgerTable, under a unique name, and returns the client and the
// name.
func Table(t testing.TB) (*dynamodb.Client, string) {
	t.Helper()
	client := DynamoDB(t)
	tpl, err := stack.Load(templatePath())
	if err != nil {
		t.Fatal(err)
	}
	name := Name(t, "ledger")
	in, ttl, err := tpl.Table("LedgerTable", name)
	if err != nil {
		t.Fatal(err)
	}
	if err := stack.CreateTable(context.Background(), client, in, ttl); err != nil {
		t.Fatal(err)
	}
	return client, name
}

// templatePath finds template.yaml from the test's package directory.
func templatePath() string {
	dir, _ := os.Getwd()
	for range 6 {
		if _, err := os.Stat(dir + "/template.yaml"); err == nil {
			return dir + "/template.yaml"
		}
		dir += "/.."
	}
	return "template.yaml"
}
