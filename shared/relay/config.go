package relay

import (
	"fmt"
	"strconv"
	"time"
)

// ParseConfig reads the processor's behaviour through get (the secret's value
// when it has one, else the environment's). It fails on a value that can
// never work, naming the variable. Each platform's settings are its
// package's.
func ParseConfig(get func(string) string) (Config, error) {
	cfg := DefaultConfig()
	if v := get("IDEMPOTENCY_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Hour {
			return Config{}, fmt.Errorf("IDEMPOTENCY_TTL: %q is not a duration of at least 1h (e.g. 168h)", v)
		}
		cfg.IdempotencyTTL = d
	}
	if v := get("PROCESSOR_PARALLELISM"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 64 {
			return Config{}, fmt.Errorf("PROCESSOR_PARALLELISM: %q is not a number from 1 to 64", v)
		}
		cfg.Parallelism = n
	}
	return cfg, nil
}
