// Package startup reads what every function needs at cold start: a JSON
// logger at the configured level, the AWS configuration and the settings
// source (one Secrets Manager secret, or the environment). It is kept
// small: the webhook function links it and nothing heavier.
package startup

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/rewardrelay/rewardrelay/shared/secret"
	"github.com/rewardrelay/rewardrelay/shared/telemetry"
)

// Function is what every function reads at cold start.
type Function struct {
	Log *slog.Logger
	AWS aws.Config
	// Get returns a setting: the secret's value when it has the key, else
	// the environment's.
	Get func(string) string
}

// Load reads the function's configuration through getenv (os.Getenv in
// the functions): LOG_LEVEL, STACK_NAME and SECRET_ARN. The logger is
// usable even when it fails, to say why.
func Load(ctx context.Context, getenv func(string) string) (Function, error) {
	f := Function{Log: telemetry.New(os.Stdout, telemetry.Options{Level: getenv("LOG_LEVEL"), Stack: getenv("STACK_NAME")})}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return f, fmt.Errorf("load AWS configuration: %w", err)
	}
	settings, err := secret.From(ctx, cfg, getenv)
	if err != nil {
		return f, fmt.Errorf("load secret settings: %w", err)
	}
	f.AWS, f.Get = cfg, settings.Get
	return f, nil
}

// Exit logs why the function cannot start and exits; Lambda reports the
// init failure and retries the cold start. For main only.
func (f Function) Exit(err error) {
	f.Log.Error("cannot start", "error", err.Error())
	os.Exit(1)
}
