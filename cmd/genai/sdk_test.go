package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"genai/bedrock/bedrocktest"
)

// The official JavaScript SDKs of OpenAI (openai) and Anthropic (@anthropic-ai/sdk),
// unchanged but for their base URL, against the server on the Bedrock test server, and
// the MCP TypeScript SDK (@modelcontextprotocol/sdk) against /mcp and "genai mcp". The
// packages are pinned in sdktest/package.json and installed there by .ci/run
// (npm ci); the scripts print "N passed, M failed".
func TestJavaScriptSDKs(t *testing.T) {
	dir := javaScriptSDKs(t)
	bedrockUpstream(t, bedrocktest.Options{})
	const key, otherKey = "sk-genai-sdk-test-0123456789", "sk-genai-sdk-test-other-key"
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock", "GENAI_API_KEYS": key + "," + otherKey})
	for _, script := range []string{"openai.mjs", "anthropic.mjs", "mcp.mjs", "responses.mjs"} {
		t.Run(strings.TrimSuffix(script, ".mjs"), func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), "node", script)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GENAI_URL="+base, "GENAI_KEY="+key, "GENAI_MODEL="+DefaultBedrockModel,
				"GENAI_STRUCTURED_MODEL=us.anthropic.claude-haiku-4-5-20251001-v1:0")
			if script == "mcp.mjs" {
				// The stdio half launches "genai mcp" as a desktop assistant does: the
				// binary itself, built here.
				cmd.Env = append(cmd.Env, "GENAI_OTHER_KEY="+otherKey, "GENAI_BINARY="+buildGenai(t), "GENAI_MCP_DATA_DIR="+t.TempDir())
			}
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), " passed, 0 failed") {
				t.Errorf("node %s: %v\n%s", script, err, out)
			} else {
				t.Logf("node %s:\n%s", script, out)
			}
		})
	}
}

// javaScriptSDKs returns the directory of the SDK scripts, failing the test when the
// SDKs are not installed unless GENAI_SKIP_NODE is set.
func javaScriptSDKs(t *testing.T) string {
	t.Helper()
	dir, _ := filepath.Abs("../../sdktest")
	for _, pkg := range []string{"openai", "@anthropic-ai/sdk", "@modelcontextprotocol/sdk"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg)); err != nil {
			if os.Getenv("GENAI_SKIP_NODE") != "" {
				t.Skip("GENAI_SKIP_NODE is set")
			}
			t.Fatalf("the SDKs are not installed: run (cd sdktest && npm ci), or set GENAI_SKIP_NODE=1 (%v)", err)
		}
	}
	return dir
}

// buildGenai builds the genai binary into a temporary directory and returns its path.
func buildGenai(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "genai")
	out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
