// Package secret supplies the functions' secret settings: from one AWS
// Secrets Manager secret (a JSON object of strings) when SECRET_ARN is set,
// otherwise from the environment, which is how the local stack runs.
package secret

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// GetAPI is the part of the Secrets Manager client that Load uses.
type GetAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// ErrFormat means the secret is not a JSON object of strings.
var ErrFormat = errors.New("secret: not a JSON object of strings")

// Source looks up settings: a key present in the secret wins over the
// environment variable of the same name.
type Source struct {
	values map[string]string
	getenv func(string) string
}

// Env is a Source reading only the environment.
func Env() *Source { return &Source{getenv: os.Getenv} }

// Load reads the secret once (call it once per cold start). The error names
// the secret and the failure, never a value.
func Load(ctx context.Context, client GetAPI, arn string) (*Source, error) {
	out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return nil, fmt.Errorf("read secret %s: %w", arn, err)
	}
	s := Env()
	if out.SecretString == nil {
		return nil, fmt.Errorf("read secret %s: no SecretString: %w", arn, ErrFormat)
	}
	if err := json.Unmarshal([]byte(*out.SecretString), &s.values); err != nil {
		// The JSON error may quote part of the secret: do not wrap it.
		return nil, fmt.Errorf("read secret %s: %w", arn, ErrFormat)
	}
	return s, nil
}

// FromEnvironment is the functions' settings source: the secret named by
// SECRET_ARN when it is set (read once, now), else the environment.
func FromEnvironment(ctx context.Context, cfg aws.Config) (*Source, error) {
	return From(ctx, cfg, os.Getenv)
}

// From is FromEnvironment reading the environment through getenv.
func From(ctx context.Context, cfg aws.Config, getenv func(string) string) (*Source, error) {
	arn := getenv("SECRET_ARN")
	if arn == "" {
		return &Source{getenv: getenv}, nil
	}
	s, err := Load(ctx, secretsmanager.NewFromConfig(cfg), arn)
	if err != nil {
		return nil, err
	}
	s.getenv = getenv
	return s, nil
}

// Get returns the setting named key.
func (s *Source) Get(key string) string {
	if v, ok := s.values[key]; ok {
		return v
	}
	return s.getenv(key)
}
