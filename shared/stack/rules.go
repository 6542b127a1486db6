package stack

import (
	"fmt"
	"maps"
	"slices"
)

// Rule is a template rule: when RuleCondition holds for the parameters of
// a deployment, every assertion must hold too, or CloudFormation refuses
// the deployment with the assertion's description.
type Rule struct {
	RuleCondition any         `yaml:"RuleCondition"`
	Assertions    []Assertion `yaml:"Assertions"`
}

// Assertion is one of a rule's checks.
type Assertion struct {
	Assert            any    `yaml:"Assert"`
	AssertDescription string `yaml:"AssertDescription"`
}

// CheckRules evaluates the template's rules for a deployment with these
// parameter values (defaults for the others) and returns the description
// of every assertion that fails, in rule order: what CloudFormation would
// answer. It knows the rule functions this template uses: Fn::Equals,
// Fn::Not, Fn::And, Fn::Or and Fn::Contains.
func (t *Template) CheckRules(params map[string]string) ([]string, error) {
	var failed []string
	for _, name := range slices.Sorted(maps.Keys(t.Rules)) {
		r := t.Rules[name]
		if r.RuleCondition != nil {
			holds, err := t.ruleBool(r.RuleCondition, params)
			if err != nil {
				return nil, fmt.Errorf("rule %s: %w", name, err)
			}
			if !holds {
				continue
			}
		}
		for _, a := range r.Assertions {
			ok, err := t.ruleBool(a.Assert, params)
			if err != nil {
				return nil, fmt.Errorf("rule %s: %w", name, err)
			}
			if !ok {
				failed = append(failed, a.AssertDescription)
			}
		}
	}
	return failed, nil
}

func (t *Template) ruleBool(v any, params map[string]string) (bool, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("rule function %v: not supported", v)
	}
	for fn, arg := range m {
		args, _ := arg.([]any)
		switch fn {
		case "Fn::Not":
			if len(args) != 1 {
				break
			}
			b, err := t.ruleBool(args[0], params)
			return !b, err
		case "Fn::And", "Fn::Or":
			all, some := true, false
			for _, a := range args {
				b, err := t.ruleBool(a, params)
				if err != nil {
					return false, err
				}
				all, some = all && b, some || b
			}
			if fn == "Fn::And" {
				return all, nil
			}
			return some, nil
		case "Fn::Equals":
			if len(args) != 2 {
				break
			}
			a, err := t.ruleValue(args[0], params)
			if err != nil {
				return false, err
			}
			b, err := t.ruleValue(args[1], params)
			return a == b, err
		case "Fn::Contains":
			list, ok := args[0].([]any)
			if len(args) != 2 || !ok {
				break
			}
			want, err := t.ruleValue(args[1], params)
			if err != nil {
				return false, err
			}
			for _, item := range list {
				v, err := t.ruleValue(item, params)
				if err != nil {
					return false, err
				}
				if v == want {
					return true, nil
				}
			}
			return false, nil
		}
	}
	return false, fmt.Errorf("rule function %v: not supported", v)
}

func (t *Template) ruleValue(v any, params map[string]string) (string, error) {
	if m, ok := v.(map[string]any); ok {
		name, ok := m["Ref"].(string)
		if !ok || len(m) != 1 {
			return "", fmt.Errorf("rule value %v: not supported", v)
		}
		r, err := t.ref(name, params, nil)
		return fmt.Sprint(r), err
	}
	return fmt.Sprint(v), nil
}
