package relay

import (
	"strings"
	"testing"
	"time"
)

func TestConfig(t *testing.T) {
	get := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cfg, err := ParseConfig(get(map[string]string{"IDEMPOTENCY_TTL": "72h", "PROCESSOR_PARALLELISM": "3"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.IdempotencyTTL != 72*time.Hour || cfg.Parallelism != 3 {
		t.Errorf("config %+v", cfg)
	}
	cfg, _ = ParseConfig(get(nil))
	if cfg.IdempotencyTTL != 7*24*time.Hour || cfg.Parallelism != 8 {
		t.Errorf("defaults %+v", cfg)
	}
	for k, v := range map[string]string{"IDEMPOTENCY_TTL": "5m", "PROCESSOR_PARALLELISM": "0"} {
		if _, err := ParseConfig(get(map[string]string{k: v})); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v, want an error naming it", k, v, err)
		}
	}
}
