package awstest

import (
	"fmt"
	"os"
	"testing"
)

// TestMain says, once per go test ./... and on the terminal (go test shows
// nothing of a package that passes), that the integration tests skipped.
func TestMain(m *testing.M) {
	code := m.Run()
	if note := SkipNote(os.Getenv); note != "" {
		if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			fmt.Fprintln(tty, note)
			tty.Close()
		}
	}
	os.Exit(code)
}

func TestSkipNote(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	for _, tt := range []struct {
		name string
		vars map[string]string
		want string
	}{
		{"plain go test", nil, "integration tests skipped: AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_SQS not set; make test runs them against DynamoDB Local and the SQS emulator"},
		{"one emulator", map[string]string{DynamoDBEndpoint: "http://127.0.0.1:1"}, "integration tests skipped: AWS_ENDPOINT_URL_SQS not set; make test runs them against DynamoDB Local and the SQS emulator"},
		{"make test", map[string]string{DynamoDBEndpoint: "http://127.0.0.1:1", SQSEndpoint: "http://127.0.0.1:2"}, ""},
		{"CI, where they fail instead", map[string]string{"CI": "true"}, ""},
	} {
		if got := SkipNote(env(tt.vars)); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
