package secret

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

type fakeSecrets struct {
	value *string
	err   error
	calls int
}

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.calls++
	return &secretsmanager.GetSecretValueOutput{SecretString: f.value}, f.err
}

func TestLoadPrefersTheSecretOverTheEnvironment(t *testing.T) {
	t.Setenv("AGENTREF_WEBHOOK_SECRETS", "from-env")
	t.Setenv("FIRSTPROMOTER_WEBHOOK_TOKEN", "env-token")
	f := &fakeSecrets{value: aws.String(`{"AGENTREF_WEBHOOK_SECRETS":"from-secret"}`)}
	s, err := Load(t.Context(), f, "arn:aws:secretsmanager:eu-west-1:1:secret:relay")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Get("AGENTREF_WEBHOOK_SECRETS"); got != "from-secret" {
		t.Errorf("Get(AGENTREF_WEBHOOK_SECRETS) = %q, want the secret's value", got)
	}
	if got := s.Get("FIRSTPROMOTER_WEBHOOK_TOKEN"); got != "env-token" {
		t.Errorf("Get(FIRSTPROMOTER_WEBHOOK_TOKEN) = %q, want the environment's value", got)
	}
	if f.calls != 1 {
		t.Errorf("GetSecretValue called %d times, want 1", f.calls)
	}
}

func TestLoadErrorsNeverQuoteTheSecret(t *testing.T) {
	tests := []struct {
		name  string
		value *string
		err   error
		want  error
	}{
		{"not JSON", aws.String(`AGENTREF_WEBHOOK_SECRETS=whsec_topsecret`), nil, ErrFormat},
		{"not strings", aws.String(`{"AGENTREF_WEBHOOK_SECRETS":["whsec_topsecret"]}`), nil, ErrFormat},
		{"binary secret", nil, nil, ErrFormat},
		{"access denied", nil, errors.New("AccessDeniedException"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(t.Context(), &fakeSecrets{value: tt.value, err: tt.err}, "arn:relay")
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Load: got %v, want %v", err, tt.want)
			}
			if strings.Contains(err.Error(), "topsecret") {
				t.Errorf("Load error %q quotes the secret", err)
			}
			if !strings.Contains(err.Error(), "arn:relay") {
				t.Errorf("Load error %q does not name the secret", err)
			}
		})
	}
}
