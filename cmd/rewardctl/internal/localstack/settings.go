package localstack

import (
	"encoding/json"
	"fmt"
	"os"
)

// Settings are the settings of events/env.json, used for any variable the
// environment leaves unset, so that the local stack, `sam local invoke` and
// the sample events share one set of local secrets.
type Settings map[string]string

// LoadSettings reads events/env.json: the variables of every function's
// section, in one set.
func LoadSettings(path string) (Settings, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("local settings: %w", err)
	}
	var env map[string]map[string]string
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("local settings %s: %w", path, err)
	}
	s := Settings{}
	for _, vars := range env {
		for k, v := range vars {
			s[k] = v
		}
	}
	return s, nil
}

// Get returns the environment's value of key, else the local setting.
func (s Settings) Get(key string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return s[key]
}
