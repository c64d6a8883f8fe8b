package main

import (
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Config is the whole configuration of genai. Every field has an environment variable
// GENAI_* and a flag of the same name; a flag wins over the environment.
type Config struct {
	Addr          string
	DataDir       string
	Provider      string
	ChatModel     string
	ChatModels    []string
	MaxTokens     int
	AWSRegion     string
	OpenAIBaseURL string
	OpenAIAPIKey  string
	APIKeys       []string
	CORSOrigins   []string
	MetricsPublic bool
	LogLevel      string
}

// DefaultBedrockModel is the chat model used on Bedrock when none is configured.
const DefaultBedrockModel = "anthropic.claude-3-haiku-20240307-v1:0"

// setting describes one configuration field for the flag set and the README table.
type setting struct {
	name, env, def, usage string
	set                   func(c *Config, v string) error
}

func settings() []setting {
	str := func(p func(*Config) *string) func(*Config, string) error {
		return func(c *Config, v string) error { *p(c) = v; return nil }
	}
	list := func(p func(*Config) *[]string) func(*Config, string) error {
		return func(c *Config, v string) error { *p(c) = splitList(v); return nil }
	}
	return []setting{
		{"addr", "GENAI_ADDR", "127.0.0.1:3000", "address to listen on; beyond loopback, GENAI_API_KEYS is required", str(func(c *Config) *string { return &c.Addr })},
		{"data-dir", "GENAI_DATA_DIR", "./data", "directory for the embedded store", str(func(c *Config) *string { return &c.DataDir })},
		{"provider", "GENAI_PROVIDER", "auto", "chat provider: auto, bedrock, openai or none", func(c *Config, v string) error {
			switch v {
			case "auto", "bedrock", "openai", "none":
				c.Provider = v
				return nil
			}
			return fmt.Errorf("must be auto, bedrock, openai or none, got %q", v)
		}},
		{"chat-model", "GENAI_CHAT_MODEL", "", "default chat model id (Bedrock: " + DefaultBedrockModel + "; an inference profile such as us.anthropic… works too)", str(func(c *Config) *string { return &c.ChatModel })},
		{"chat-models", "GENAI_CHAT_MODELS", "", "comma-separated model ids offered in the UI's model picker", list(func(c *Config) *[]string { return &c.ChatModels })},
		{"max-tokens", "GENAI_MAX_TOKENS", "2048", "default output token limit of an answer", func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("must be a positive whole number, got %q", v)
			}
			c.MaxTokens = n
			return nil
		}},
		{"aws-region", "GENAI_AWS_REGION", "", "AWS region for Bedrock (default: the SDK's chain, AWS_REGION or the profile; else us-east-1)", str(func(c *Config) *string { return &c.AWSRegion })},
		{"openai-base-url", "GENAI_OPENAI_BASE_URL", "", "OpenAI-compatible endpoint, such as http://localhost:11434/v1 for Ollama", str(func(c *Config) *string { return &c.OpenAIBaseURL })},
		{"openai-api-key", "GENAI_OPENAI_API_KEY", "", "API key of the OpenAI-compatible endpoint, if it needs one", str(func(c *Config) *string { return &c.OpenAIAPIKey })},
		{"api-keys", "GENAI_API_KEYS", "", "comma-separated API keys clients must send as a bearer token", list(func(c *Config) *[]string { return &c.APIKeys })},
		{"cors-origins", "GENAI_CORS_ORIGINS", "", "comma-separated origins allowed to call the API from browsers", list(func(c *Config) *[]string { return &c.CORSOrigins })},
		{"metrics-public", "GENAI_METRICS_PUBLIC", "false", "serve /metrics without an API key", func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("must be true or false, got %q", v)
			}
			c.MetricsPublic = b
			return nil
		}},
		{"log-level", "GENAI_LOG_LEVEL", "info", "log level: debug, info, warn or error", func(c *Config, v string) error {
			switch v {
			case "debug", "info", "warn", "error":
				c.LogLevel = v
				return nil
			}
			return fmt.Errorf("must be debug, info, warn or error, got %q", v)
		}},
	}
}

// parseConfig reads the environment, then the flags in args.
func parseConfig(name string, args []string, getenv func(string) string) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() { usage(fs) }
	for _, s := range settings() {
		v := s.def
		if e := getenv(s.env); e != "" {
			v = e
		}
		if err := s.set(c, v); err != nil {
			return nil, fmt.Errorf("%s: %w", s.env, err)
		}
		fs.Func(s.name, s.usage+" (env "+s.env+")", func(v string) error { return s.set(c, v) })
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return c, c.validate()
}

// validate checks rules that span fields.
func (c *Config) validate() error {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("GENAI_ADDR: %q is not host:port: %w", c.Addr, err)
	}
	if !isLoopback(host) && len(c.APIKeys) == 0 {
		return fmt.Errorf("GENAI_ADDR: listening on %q, beyond loopback, needs GENAI_API_KEYS so that the API is not open to the network", c.Addr)
	}
	if c.Provider == "openai" && c.OpenAIBaseURL == "" {
		return fmt.Errorf("GENAI_PROVIDER=openai needs GENAI_OPENAI_BASE_URL (for Ollama: http://localhost:11434/v1)")
	}
	for _, k := range c.APIKeys {
		if len(k) < 16 {
			return fmt.Errorf("GENAI_API_KEYS: each key must be at least 16 characters")
		}
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func usage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprintf(w, `genai serves chat, image analysis and retrieval over HTTP, with a web UI.

Usage:
  genai [serve] [flags]   run the server (the default)
  genai version           print the version
  genai help              print this help

Flags of serve (each also an environment variable):
`)
	fs.PrintDefaults()
}
