package main

import (
	"encoding/json"
	"fmt"
	webhookhandler "github.com/rewardrelay/rewardrelay/functions/webhook/handler"
	"os"
)

// localDefaults are the settings of events/env.json, used for any variable
// the environment leaves unset, so the local stack, `sam local invoke` and
// the sample events share one set of local secrets.
type localDefaults map[string]string

func loadLocalDefaults(path string) (localDefaults, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("local settings: %w", err)
	}
	var env map[string]map[string]string
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("local settings %s: %w", path, err)
	}
	d := localDefaults{}
	for _, vars := range env {
		for k, v := range vars {
			d[k] = v
		}
	}
	return d, nil
}

// get returns the environment's value of key, else the local default.
func (d localDefaults) get(key string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return d[key]
}

// splitList splits a comma-separated setting.
func splitList(v string) []string { return webhookhandler.List(v) }

// webhookSecret is the first of a comma-separated secrets setting: the one
// a platform signs with.
func webhookSecret(d localDefaults, key string) string {
	for _, s := range splitList(d.get(key)) {
		return s
	}
	return ""
}
