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
// unchanged but for their base URL, against the server on the Bedrock test server. The
// packages are pinned in sdktest/package.json and installed there by .ci/run
// (npm ci); the scripts print "N passed, M failed".
func TestJavaScriptSDKs(t *testing.T) {
	dir, _ := filepath.Abs("../../sdktest")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openai")); err != nil {
		if os.Getenv("GENAI_SKIP_NODE") != "" {
			t.Skip("GENAI_SKIP_NODE is set")
		}
		t.Fatalf("the SDKs are not installed: run (cd sdktest && npm ci), or set GENAI_SKIP_NODE=1 (%v)", err)
	}
	bedrockUpstream(t, bedrocktest.Options{})
	const key = "sk-genai-sdk-test-0123456789"
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock", "GENAI_API_KEYS": key})
	for _, script := range []string{"openai.mjs", "anthropic.mjs"} {
		t.Run(strings.TrimSuffix(script, ".mjs"), func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), "node", script)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GENAI_URL="+base, "GENAI_KEY="+key, "GENAI_MODEL="+DefaultBedrockModel,
				"GENAI_STRUCTURED_MODEL=us.anthropic.claude-haiku-4-5-20251001-v1:0")
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), " passed, 0 failed") {
				t.Errorf("node %s: %v\n%s", script, err, out)
			} else {
				t.Logf("node %s:\n%s", script, out)
			}
		})
	}
}
