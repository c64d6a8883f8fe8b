package mcp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/net/http/httpguts"

	"genai"
)

// ServerConfig is one MCP server of the servers file: a command run over stdio, or the
// URL of a Streamable HTTP endpoint.
type ServerConfig struct {
	// Name is the entry's key; it prefixes the server's tool names and names its group
	// of server tools, "mcp:" + Name.
	Name string
	// Command, Args and Env run a server over stdio. The child's environment is Env on
	// top of a few variables of ours (InheritedEnv), never the whole of it: our
	// credentials are not the server's business.
	Command string
	Args    []string
	Env     map[string]string
	// URL and Headers reach a server over Streamable HTTP.
	URL     string
	Headers map[string]string
}

// Transport names how the server is reached: "stdio" or "http".
func (c ServerConfig) Transport() string {
	if c.URL != "" {
		return "http"
	}
	return "stdio"
}

// serverNameRE is the rule for a server's name: letters, digits and '-', in words joined
// by single '_'. Without "__" or a '_' at either end, the name is the part of a tool name
// before its first "__", so the tools of two servers can never share a name.
var serverNameRE = regexp.MustCompile(`^[a-zA-Z0-9-]+(_[a-zA-Z0-9-]+)*$`)

// MaxServerNameLength bounds a server's name, leaving a tool name at least 30 bytes.
const MaxServerNameLength = 32

// entryFields are the fields an entry may have. "type" is what Claude Code and Cursor
// write beside the others; it must agree with them.
var entryFields = []string{"command", "args", "env", "url", "headers", "type"}

// LoadConfig reads the servers file at path, with the variables of the process's
// environment; see ParseConfig.
func LoadConfig(path string) ([]ServerConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(data, os.LookupEnv)
}

// ParseConfig decodes a servers file in the format of Claude Desktop, Claude Code and
// Cursor, {"mcpServers": {"NAME": {"command": …, "args": […], "env": {…}}}} for stdio
// and {"mcpServers": {"NAME": {"url": …, "headers": {…}}}} for Streamable HTTP, and
// checks every entry. The servers come back sorted by name. An error names the entry
// and the field that is wrong; unknown fields are refused by name rather than ignored,
// since an ignored "cwd" or "disabled" would run something else than the user meant.
//
// As in Claude Code's files, "${VAR}" and "${VAR:-default}" in the command, args, env
// and header values and the url are replaced by the variable of lookup, so that secrets
// need not be written in the file; a variable that is not set and has no default is an
// error.
func ParseConfig(data []byte, lookup func(string) (string, bool)) ([]ServerConfig, error) {
	var file map[string]json.RawMessage
	if err := genai.DecodeJSON(data, &file); err != nil {
		return nil, fmt.Errorf("not a JSON object: %s", genai.ErrorMessage(err))
	}
	for k := range file {
		if k != "mcpServers" {
			return nil, fmt.Errorf("unknown field %q; the servers go in \"mcpServers\"", k)
		}
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(file["mcpServers"], &entries); err != nil || entries == nil {
		return nil, fmt.Errorf("mcpServers: must be an object of servers by name")
	}
	var out []ServerConfig
	for name, raw := range entries {
		c, err := parseEntry(name, raw, lookup)
		if err != nil {
			return nil, fmt.Errorf("mcpServers.%s: %w", name, err)
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b ServerConfig) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func parseEntry(name string, raw json.RawMessage, lookup func(string) (string, bool)) (ServerConfig, error) {
	c := ServerConfig{Name: name}
	if !serverNameRE.MatchString(name) || len(name) > MaxServerNameLength {
		return c, fmt.Errorf("the name must be 1 to %d letters, digits, '-' and single '_' between them, as it starts the names of its tools", MaxServerNameLength)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return c, fmt.Errorf("must be an object")
	}
	for k := range fields {
		if !slices.Contains(entryFields, k) {
			return c, fmt.Errorf("unknown field %q; an entry has %s", k, strings.Join(entryFields, ", "))
		}
	}
	field := func(key string, v any, what string) error {
		if r, ok := fields[key]; ok && !bytes.Equal(bytes.TrimSpace(r), []byte("null")) {
			if err := json.Unmarshal(r, v); err != nil {
				return fmt.Errorf("%s: must be %s", key, what)
			}
		}
		return nil
	}
	var typ string
	for _, err := range []error{
		field("command", &c.Command, "a string"),
		field("args", &c.Args, "an array of strings"),
		field("env", &c.Env, "an object of strings"),
		field("url", &c.URL, "a string"),
		field("headers", &c.Headers, "an object of strings"),
		field("type", &typ, "a string"),
	} {
		if err != nil {
			return c, err
		}
	}
	if err := c.expand(lookup); err != nil {
		return c, err
	}
	switch {
	case c.Command != "" && c.URL != "":
		return c, fmt.Errorf("has both command and url; a server is run (command) or reached (url)")
	case c.Command == "" && c.URL == "":
		return c, fmt.Errorf("needs a command (stdio) or a url (Streamable HTTP)")
	case c.Command != "":
		if typ != "" && typ != "stdio" {
			return c, fmt.Errorf("type: %q does not go with a command; use \"stdio\" or leave it out", typ)
		}
		if len(c.Headers) > 0 {
			return c, fmt.Errorf("headers: only with a url")
		}
		if strings.ContainsRune(c.Command, 0) || slices.ContainsFunc(c.Args, func(a string) bool { return strings.ContainsRune(a, 0) }) {
			return c, fmt.Errorf("command and args: must not hold a NUL byte")
		}
		for k, v := range c.Env {
			if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
				return c, fmt.Errorf("env: %q is not a variable name (no '=' or NUL) with a value without NUL", k)
			}
		}
	default:
		switch typ {
		case "", "http", "streamable-http", "streamableHttp":
		case "sse":
			return c, fmt.Errorf("type: \"sse\", the transport MCP replaced in 2025, is not supported; use the server's Streamable HTTP endpoint")
		default:
			return c, fmt.Errorf("type: %q does not go with a url; use \"http\" or leave it out", typ)
		}
		if len(c.Env) > 0 || len(c.Args) > 0 {
			return c, fmt.Errorf("args and env: only with a command")
		}
		u, err := url.Parse(c.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, fmt.Errorf("url: %q must be an absolute http:// or https:// URL", c.URL)
		}
		for k, v := range c.Headers {
			if !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidHeaderFieldValue(v) {
				return c, fmt.Errorf("headers: %q is not a valid header name and value", k)
			}
		}
	}
	return c, nil
}

// variableRE matches "${VAR}" and "${VAR:-default}".
var variableRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}`)

// expand replaces the variables of c's strings by their values.
func (c *ServerConfig) expand(lookup func(string) (string, bool)) error {
	var missing []string
	expand := func(s string) string {
		return variableRE.ReplaceAllStringFunc(s, func(m string) string {
			sub := variableRE.FindStringSubmatch(m)
			if v, ok := lookup(sub[1]); ok && v != "" {
				return v
			}
			if sub[2] != "" {
				return sub[2][2:]
			}
			missing = append(missing, sub[1])
			return m
		})
	}
	c.Command, c.URL = expand(c.Command), expand(c.URL)
	for i, a := range c.Args {
		c.Args[i] = expand(a)
	}
	for k, v := range c.Env {
		c.Env[k] = expand(v)
	}
	for k, v := range c.Headers {
		c.Headers[k] = expand(v)
	}
	if len(missing) > 0 {
		return fmt.Errorf("${%s}: the variable is not set, and has no default (${%s:-default})", missing[0], missing[0])
	}
	return nil
}
