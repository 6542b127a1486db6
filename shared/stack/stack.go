// Package stack reads template.yaml, the one definition of rewardrelay's
// resources, so that the local stack and the tests create the queues and the
// table exactly as CloudFormation would, and so tests can hold the template
// to its own rules.
package stack

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is a parsed SAM template. CloudFormation short-form tags (!Ref,
// !GetAtt, !Sub, !If, ...) are turned into their long form ({"Ref": ...},
// {"Fn::GetAtt": [...]}), so values are plain maps, slices and scalars.
type Template struct {
	Parameters map[string]Parameter                 `yaml:"Parameters"`
	Mappings   map[string]map[string]map[string]any `yaml:"Mappings"`
	Conditions map[string]any                       `yaml:"Conditions"`
	Rules      map[string]Rule                      `yaml:"Rules"`
	Globals    map[string]any                       `yaml:"Globals"`
	Resources  map[string]Resource                  `yaml:"Resources"`
	Outputs    map[string]any                       `yaml:"Outputs"`
}

// Parameter is a template parameter.
type Parameter struct {
	Type           string `yaml:"Type"`
	Default        any    `yaml:"Default"`
	AllowedPattern string `yaml:"AllowedPattern"`
	AllowedValues  []any  `yaml:"AllowedValues"`
}

// Resource is a template resource.
type Resource struct {
	Type                string         `yaml:"Type"`
	Condition           string         `yaml:"Condition"`
	DeletionPolicy      string         `yaml:"DeletionPolicy"`
	UpdateReplacePolicy string         `yaml:"UpdateReplacePolicy"`
	Metadata            map[string]any `yaml:"Metadata"`
	Properties          map[string]any `yaml:"Properties"`
}

// ErrNotFound means the template has no such resource or property.
var ErrNotFound = errors.New("stack: not in the template")

// Load reads and parses a template file.
func Load(path string) (*Template, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load template: %w", err)
	}
	return Parse(raw)
}

// Parse parses template YAML.
func Parse(raw []byte) (*Template, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	if err := longForm(&root); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	var t Template
	if err := root.Decode(&t); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	return &t, nil
}

// longForm rewrites every short-form intrinsic node (tag "!Name") in place as
// the mapping CloudFormation reads it as.
func longForm(n *yaml.Node) error {
	for _, c := range n.Content {
		if err := longForm(c); err != nil {
			return err
		}
	}
	if !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return nil
	}
	name := n.Tag[1:]
	key := "Fn::" + name
	if name == "Ref" || name == "Condition" {
		key = name
	}
	value := *n
	value.Tag = ""
	switch {
	case name == "GetAtt" && n.Kind == yaml.ScalarNode:
		resource, attr, ok := strings.Cut(n.Value, ".")
		if !ok {
			return fmt.Errorf("line %d: !GetAtt %q is not Resource.Attribute", n.Line, n.Value)
		}
		value = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: resource},
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: attr},
		}}
	case n.Kind == yaml.ScalarNode:
		value.Tag = "!!str"
	case n.Kind == yaml.SequenceNode:
		value.Tag = "!!seq"
	case n.Kind == yaml.MappingNode:
		value.Tag = "!!map"
	}
	*n = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column, Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Tag: "!!str", Value: key},
		&value,
	}}
	return nil
}

// Resolve evaluates the intrinsics a local stack needs in v: Ref to a
// parameter (its default, or an override), Ref and Fn::GetAtt to a resource
// (through refs, called with "Logical" or "Logical.Attribute"), Fn::If on a
// condition of parameter equality, Fn::FindInMap, and AWS::NoValue. A value Resolve cannot
// evaluate is an error that names it.
func (t *Template) Resolve(v any, overrides map[string]string, refs func(logicalID string) (string, bool)) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 1 {
			if name, ok := v["Ref"].(string); ok {
				return t.ref(name, overrides, refs)
			}
			if args, ok := v["Fn::If"].([]any); ok && len(args) == 3 {
				cond, ok := args[0].(string)
				if !ok {
					return nil, fmt.Errorf("resolve Fn::If: condition is %v", args[0])
				}
				holds, err := t.condition(cond, overrides)
				if err != nil {
					return nil, err
				}
				if holds {
					return t.Resolve(args[1], overrides, refs)
				}
				return t.Resolve(args[2], overrides, refs)
			}
			if args, ok := v["Fn::GetAtt"].([]any); ok && len(args) == 2 {
				id := fmt.Sprintf("%v.%v", args[0], args[1])
				if refs != nil {
					if s, ok := refs(id); ok {
						return s, nil
					}
				}
				return nil, fmt.Errorf("resolve Fn::GetAtt %s: %w", id, ErrNotFound)
			}
			if s, ok := v["Fn::Sub"].(string); ok {
				return t.sub(s, overrides, refs)
			}
			if args, ok := v["Fn::FindInMap"].([]any); ok && len(args) == 3 {
				var keys [3]string
				for i, a := range args {
					r, err := t.Resolve(a, overrides, refs)
					if err != nil {
						return nil, err
					}
					keys[i] = fmt.Sprint(r)
				}
				value, ok := t.Mappings[keys[0]][keys[1]][keys[2]]
				if !ok {
					return nil, fmt.Errorf("resolve Fn::FindInMap %v: %w", keys, ErrNotFound)
				}
				return value, nil
			}
			for k := range v {
				if strings.HasPrefix(k, "Fn::") {
					return nil, fmt.Errorf("resolve %s: not supported locally", k)
				}
			}
		}
		out := make(map[string]any, len(v))
		for k, item := range v {
			r, err := t.Resolve(item, overrides, refs)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if r != noValue {
				out[k] = r
			}
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(v))
		for _, item := range v {
			r, err := t.Resolve(item, overrides, refs)
			if err != nil {
				return nil, err
			}
			if r != noValue {
				out = append(out, r)
			}
		}
		return out, nil
	default:
		return v, nil
	}
}

// noValue stands for AWS::NoValue while resolving: the key or item is dropped.
var noValue = &struct{ name string }{"AWS::NoValue"}

// localPseudo are the pseudo parameters' values on a laptop.
var localPseudo = map[string]string{
	"AWS::AccountId": "000000000000",
	"AWS::Partition": "aws",
	"AWS::Region":    "us-east-1",
	"AWS::StackName": "rewardrelay",
	"AWS::URLSuffix": "amazonaws.com",
}

var subVariable = regexp.MustCompile(`\$\{([^}!]+)\}`)

// sub evaluates the one-argument form of Fn::Sub.
func (t *Template) sub(s string, overrides map[string]string, refs func(string) (string, bool)) (string, error) {
	var firstErr error
	out := subVariable.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		var v any
		var err error
		if id, attr, ok := strings.Cut(name, "."); ok {
			v, err = t.Resolve(map[string]any{"Fn::GetAtt": []any{id, attr}}, overrides, refs)
		} else {
			v, err = t.ref(name, overrides, refs)
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return fmt.Sprint(v)
	})
	return out, firstErr
}

func (t *Template) ref(name string, overrides map[string]string, refs func(string) (string, bool)) (any, error) {
	if name == "AWS::NoValue" {
		return noValue, nil
	}
	if v, ok := localPseudo[name]; ok {
		if refs != nil {
			if r, ok := refs(name); ok {
				return r, nil
			}
		}
		return v, nil
	}
	if p, ok := t.Parameters[name]; ok {
		if v, ok := overrides[name]; ok {
			return v, nil
		}
		if p.Default == nil {
			return nil, fmt.Errorf("resolve Ref %s: parameter has no default and no override", name)
		}
		return fmt.Sprint(p.Default), nil
	}
	if refs != nil {
		if v, ok := refs(name); ok {
			return v, nil
		}
	}
	return nil, fmt.Errorf("resolve Ref %s: %w", name, ErrNotFound)
}

// condition evaluates the conditions this template uses: Fn::Not and
// Fn::Equals over parameters and strings.
func (t *Template) condition(name string, overrides map[string]string) (bool, error) {
	c, ok := t.Conditions[name]
	if !ok {
		return false, fmt.Errorf("condition %s: %w", name, ErrNotFound)
	}
	return t.evalCondition(c, overrides)
}

func (t *Template) evalCondition(c any, overrides map[string]string) (bool, error) {
	m, ok := c.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("condition %v: not supported locally", c)
	}
	if args, ok := m["Fn::Not"].([]any); ok && len(args) == 1 {
		v, err := t.evalCondition(args[0], overrides)
		return !v, err
	}
	if args, ok := m["Fn::Equals"].([]any); ok && len(args) == 2 {
		a, err := t.Resolve(args[0], overrides, nil)
		if err != nil {
			return false, err
		}
		b, err := t.Resolve(args[1], overrides, nil)
		if err != nil {
			return false, err
		}
		return fmt.Sprint(a) == fmt.Sprint(b), nil
	}
	if name, ok := m["Condition"].(string); ok {
		return t.condition(name, overrides)
	}
	return false, fmt.Errorf("condition %v: not supported locally", c)
}

// Properties returns a resource's properties with intrinsics resolved.
func (t *Template) Properties(logicalID string, overrides map[string]string, refs func(string) (string, bool)) (map[string]any, error) {
	r, ok := t.Resources[logicalID]
	if !ok {
		return nil, fmt.Errorf("resource %s: %w", logicalID, ErrNotFound)
	}
	p, err := t.Resolve(r.Properties, overrides, refs)
	if err != nil {
		return nil, fmt.Errorf("resource %s: %w", logicalID, err)
	}
	return p.(map[string]any), nil
}
