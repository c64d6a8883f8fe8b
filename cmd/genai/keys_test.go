package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"genai/bedrock/bedrocktest"
)

// keyEntry is one entry of a keys file, for tests: its secret is the key's name
// repeated, so that a test knows both.
type keyEntry map[string]any

func secretOf(name string) string { return strings.Repeat(name+"-", 4) }

func sha(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// keysFile writes a keys file of entries, each given its sha256 from its name's secret.
func keysFile(t *testing.T, entries ...keyEntry) string {
	t.Helper()
	for _, e := range entries {
		if _, ok := e["sha256"]; !ok {
			e["sha256"] = sha(secretOf(e["name"].(string)))
		}
	}
	b, _ := json.Marshal(map[string]any{"keys": entries})
	path := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A keys file is checked at start, and a bad entry names itself and its field.
func TestKeysFileValidation(t *testing.T) {
	good := sha("x")
	for name, tc := range map[string]struct{ file, want string }{
		"unknown field":   {`{"keys":[{"name":"a","sha256":"` + good + `","requests_per_hour":5}]}`, `unknown field "requests_per_hour"`},
		"short sha256":    {`{"keys":[{"name":"a","sha256":"abc"}]}`, `keys[0] ("a").sha256: want the 64 hex digits`},
		"not hex":         {`{"keys":[{"name":"a","sha256":"` + strings.Repeat("z", 64) + `"}]}`, `keys[0] ("a").sha256`},
		"no name":         {`{"keys":[{"sha256":"` + good + `"}]}`, `keys[0].name: missing`},
		"bad name":        {`{"keys":[{"name":"team a","sha256":"` + good + `"}]}`, `keys[0] ("team a").name: letters, digits`},
		"duplicate name":  {`{"keys":[{"name":"a","sha256":"` + good + `"},{"name":"a","sha256":"` + sha("y") + `"}]}`, `keys[1] ("a").name: the same as keys[0]'s`},
		"duplicate key":   {`{"keys":[{"name":"a","sha256":"` + good + `"},{"name":"b","sha256":"` + good + `"}]}`, `keys[1] ("b").sha256: the same key as keys[0]'s`},
		"negative limit":  {`{"keys":[{"name":"a","sha256":"` + good + `","tokens_per_day":-1}]}`, `keys[0] ("a").tokens_per_day: -1 is negative`},
		"empty model":     {`{"keys":[{"name":"a","sha256":"` + good + `","models":[""]}]}`, `keys[0] ("a").models[0]: empty`},
		"no keys":         {`{}`, `keys: missing`},
		"not json":        {`keys: a`, `GENAI_API_KEYS_FILE`},
		"also in the env": {`{"keys":[{"name":"a","sha256":"` + sha("0123456789abcdef") + `"}]}`, `a key is also in GENAI_API_KEYS_FILE, as "a"`},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keys.json")
			os.WriteFile(path, []byte(tc.file), 0o600)
			env := map[string]string{"GENAI_API_KEYS_FILE": path, "GENAI_API_KEYS": "0123456789abcdef"}
			_, err := parseConfig("genai", nil, func(k string) string { return env[k] })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	env := map[string]string{"GENAI_API_KEYS_FILE": keysFile(t, keyEntry{"name": "a", "models": []string{"m"}, "requests_per_minute": 3})}
	c, err := parseConfig("genai", nil, func(k string) string { return env[k] })
	if err != nil || len(c.Keys) != 1 || c.Keys[0].RequestsPerMinute != 3 {
		t.Errorf("a good file: %+v, %v", c, err)
	}
}

// refusal is what a client saw of a refused call.
type refusal struct {
	status     int
	code, typ  string // the error's code, and its type on the OpenAI and Anthropic surfaces
	retryAfter int
	message    string
}

// surface makes one call on one of the server's surfaces with key, returning nil when
// it was answered and how it was refused otherwise.
type surface func(t *testing.T, base, key string) *refusal

// surfaces are every way a client reaches a model, each through its official client
// where it has one.
var surfaces = map[string]surface{
	"api/chat": func(t *testing.T, base, key string) *refusal {
		return rawCall(t, base+"/api/chat", key, `{"messages":[{"role":"user","content":"hello there"}]}`)
	},
	"api/kb/answer": func(t *testing.T, base, key string) *refusal {
		return rawCall(t, base+"/api/kb/answer", key, `{"query":"what causes the highest tides?","stream":false}`)
	},
	"bedrock-haiku": func(t *testing.T, base, key string) *refusal {
		return rawCall(t, base+"/bedrock-haiku", key, `{"messages":[{"role":"user","content":"hello there"}]}`)
	},
	"knowledge-base-retrieve-and-generate": func(t *testing.T, base, key string) *refusal {
		return rawCall(t, base+"/knowledge-base-retrieve-and-generate", key, `{"messages":[{"role":"user","content":"what causes the highest tides?"}]}`)
	},
	"v1/chat/completions": func(t *testing.T, base, key string) *refusal {
		c := oai.NewClient(option.WithBaseURL(base+"/v1"), option.WithAPIKey(key), option.WithMaxRetries(0))
		_, err := c.Chat.Completions.New(context.Background(), oai.ChatCompletionNewParams{Model: DefaultBedrockModel,
			Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage("hello there")}})
		return openAIRefusal(t, err)
	},
	"v1/chat/completions stream": func(t *testing.T, base, key string) *refusal {
		c := oai.NewClient(option.WithBaseURL(base+"/v1"), option.WithAPIKey(key), option.WithMaxRetries(0))
		s := c.Chat.Completions.NewStreaming(context.Background(), oai.ChatCompletionNewParams{Model: DefaultBedrockModel,
			Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage("hello there")}})
		for s.Next() {
		}
		return openAIRefusal(t, s.Err())
	},
	"v1/responses": func(t *testing.T, base, key string) *refusal {
		c := oai.NewClient(option.WithBaseURL(base+"/v1"), option.WithAPIKey(key), option.WithMaxRetries(0))
		_, err := c.Responses.New(context.Background(), responses.ResponseNewParams{Model: DefaultBedrockModel,
			Input: responses.ResponseNewParamsInputUnion{OfString: oai.String("hello there")}})
		return openAIRefusal(t, err)
	},
	"v1/messages": func(t *testing.T, base, key string) *refusal {
		c := anthropic.NewClient(aoption.WithBaseURL(base), aoption.WithAPIKey(key), aoption.WithMaxRetries(0))
		s := c.Messages.NewStreaming(context.Background(), anthropic.MessageNewParams{Model: DefaultBedrockModel, MaxTokens: 100,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello there"))}})
		for s.Next() {
		}
		err := s.Err()
		if err == nil {
			return nil
		}
		var ae *anthropic.Error
		if !errors.As(err, &ae) {
			t.Fatalf("v1/messages: %v", err)
		}
		var body struct {
			Error struct{ Type, Code, Message string }
		}
		json.Unmarshal([]byte(ae.RawJSON()), &body)
		if body.Error.Type == "" { // the SDK keeps the error object or the whole body
			var whole struct {
				Error struct{ Type, Code, Message string }
			}
			b, _ := io.ReadAll(ae.Response.Body)
			json.Unmarshal(b, &whole)
			body = whole
		}
		ra, _ := strconv.Atoi(ae.Response.Header.Get("Retry-After"))
		return &refusal{status: ae.StatusCode, code: body.Error.Code, typ: string(ae.Type()), retryAfter: ra, message: body.Error.Message}
	},
}

func openAIRefusal(t *testing.T, err error) *refusal {
	t.Helper()
	if err == nil {
		return nil
	}
	var oe *oai.Error
	if !errors.As(err, &oe) {
		t.Fatalf("not an API error: %v", err)
	}
	ra, _ := strconv.Atoi(oe.Response.Header.Get("Retry-After"))
	return &refusal{status: oe.StatusCode, code: oe.Code, typ: oe.Type, retryAfter: ra, message: oe.Message}
}

// rawCall posts body to url with key and reads API.md's error shape.
func rawCall(t *testing.T, url, key, body string) *refusal {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 {
		if strings.Contains(string(b), "event: error") {
			t.Fatalf("%s answered with an error event: %s", url, b)
		}
		return nil
	}
	var e struct {
		Error struct{ Code, Message string }
	}
	json.Unmarshal(b, &e)
	ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	return &refusal{status: resp.StatusCode, code: e.Error.Code, retryAfter: ra, message: e.Error.Message}
}

// wantTypes are the error types each surface's clients read for a code.
var wantTypes = map[string]map[string]string{
	"v1/messages":                {"rate_limited": "rate_limit_error", "forbidden": "permission_error"},
	"v1/chat/completions":        {"rate_limited": "rate_limit_error", "forbidden": "permission_error"},
	"v1/chat/completions stream": {"rate_limited": "rate_limit_error", "forbidden": "permission_error"},
	"v1/responses":               {"rate_limited": "rate_limit_error", "forbidden": "permission_error"},
}

func checkRefusal(t *testing.T, name string, got *refusal, status int, code, mentions string, retryMin, retryMax int) {
	t.Helper()
	switch {
	case got == nil:
		t.Errorf("%s: answered, want %d %s", name, status, code)
		return
	case got.status != status || got.code != code:
		t.Errorf("%s: %d %s (%s), want %d %s", name, got.status, got.code, got.message, status, code)
	case got.typ != wantTypes[name][code]:
		t.Errorf("%s: error type %q, want %q", name, got.typ, wantTypes[name][code])
	case !strings.Contains(got.message, mentions):
		t.Errorf("%s: message %q does not name %q", name, got.message, mentions)
	}
	if got.retryAfter < retryMin || got.retryAfter > retryMax {
		t.Errorf("%s: Retry-After %d, want %d to %d", name, got.retryAfter, retryMin, retryMax)
	}
}

// limitsServer serves Bedrock's test server behind the keys of file, with a document in
// the knowledge base.
func limitsServer(t *testing.T, env map[string]string) string {
	t.Helper()
	env["GENAI_PROVIDER"] = "bedrock"
	_, base := start(t, env)
	req, _ := http.NewRequest("POST", base+"/api/kb/documents", strings.NewReader(
		`{"title":"Tides","uri":"tides.md","text":"# Tides\n\nSpring tides, the highest tides, come when the Sun and the Moon line up."}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", secretOf("admin"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("ingest: %v %v", resp, err)
	}
	resp.Body.Close()
	return base
}

// secondsToMidnight is the Retry-After of a spent day.
func secondsToMidnight() int {
	now := time.Now().UTC()
	return int(time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC).Sub(now).Seconds()) + 1
}

// Each limit over every surface: the call within the limit is answered, the next is 429
// rate_limited in that surface's own error shape, with a Retry-After of the time left in
// the window.
func TestKeyLimitsOnEverySurface(t *testing.T) {
	bedrockUpstream(t, bedrocktest.Options{})
	entries := []keyEntry{{"name": "admin", "admin": true}}
	for name := range surfaces {
		n := strings.NewReplacer("/", "-", " ", "-").Replace(name)
		entries = append(entries,
			keyEntry{"name": "rpm-" + n, "requests_per_minute": 1},
			keyEntry{"name": "tpm-" + n, "tokens_per_minute": 1},
			keyEntry{"name": "tpd-" + n, "tokens_per_day": 1})
	}
	base := limitsServer(t, map[string]string{"GENAI_API_KEYS_FILE": keysFile(t, entries...)})
	for name, call := range surfaces {
		n := strings.NewReplacer("/", "-", " ", "-").Replace(name)
		t.Run(n, func(t *testing.T) {
			for _, limit := range []string{"rpm", "tpm", "tpd"} {
				key := secretOf(limit + "-" + n)
				// A minute that ends between the two calls would free the window: then
				// the pair is tried again in the next one.
				for {
					minute := time.Now().Truncate(time.Minute)
					if got := call(t, base, key); got != nil {
						t.Fatalf("%s: first call refused: %+v", limit, got)
					}
					got := call(t, base, key)
					if limit != "tpd" && !time.Now().Truncate(time.Minute).Equal(minute) {
						continue
					}
					switch limit {
					case "rpm":
						checkRefusal(t, name, got, 429, "rate_limited", "requests_per_minute", 1, 60)
					case "tpm":
						checkRefusal(t, name, got, 429, "rate_limited", "tokens_per_minute", 1, 60)
					case "tpd":
						s := secondsToMidnight()
						checkRefusal(t, name, got, 429, "rate_limited", "tokens_per_day", s-5, s+1)
					}
					break
				}
			}
		})
	}
	// Every refusal is counted, by key and limit.
	metrics := metricsText(t, base, secretOf("admin"))
	for _, want := range []string{
		`genai_rate_limited_total{key="rpm-v1-messages",limit="requests_per_minute"} 1`,
		`genai_rate_limited_total{key="tpd-api-kb-answer",limit="tokens_per_day"} 1`,
		`genai_key_requests_total{code="rate_limited",key="tpm-v1-responses",model="` + DefaultBedrockModel + `"} 1`,
		`genai_key_requests_total{code="ok",key="tpm-v1-chat-completions",model="` + DefaultBedrockModel + `"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func metricsText(t *testing.T, base, key string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// A key limited to some models is refused the others with 403 forbidden naming the
// model, on every surface, and sees only its models in /v1/models and /api/config.
func TestKeyModels(t *testing.T) {
	bedrockUpstream(t, bedrocktest.Options{})
	base := limitsServer(t, map[string]string{"GENAI_CHAT_MODELS": "model-b", "GENAI_API_KEYS_FILE": keysFile(t,
		keyEntry{"name": "admin", "admin": true}, keyEntry{"name": "only-b", "models": []string{"model-b"}})})
	key := secretOf("only-b")
	for name, call := range surfaces {
		checkRefusal(t, name, call(t, base, key), 403, "forbidden", DefaultBedrockModel, 0, 0)
	}
	c := oai.NewClient(option.WithBaseURL(base+"/v1"), option.WithAPIKey(key), option.WithMaxRetries(0))
	page, err := c.Models.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	if strings.Contains(strings.Join(ids, " "), DefaultBedrockModel) || !strings.Contains(strings.Join(ids, " "), "model-b") {
		t.Errorf("/v1/models for a key of model-b: %v", ids)
	}
	var cfg struct {
		ChatModel  string   `json:"chat_model"`
		ChatModels []string `json:"chat_models"`
	}
	req, _ := http.NewRequest("GET", base+"/api/config", nil)
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&cfg)
	resp.Body.Close()
	if cfg.ChatModel != "model-b" || fmt.Sprint(cfg.ChatModels) != "[model-b]" {
		t.Errorf("/api/config for a key of model-b: %+v", cfg)
	}
	// The model it may use is answered.
	if got := rawCall(t, base+"/api/chat", key, `{"model":"model-b","messages":[{"role":"user","content":"hi"}],"stream":false}`); got != nil {
		t.Errorf("model-b: %+v", got)
	}
}

type usageAnswer struct {
	Keys []struct {
		Key    string
		Limits *struct {
			RequestsPerMinute int64 `json:"requests_per_minute"`
		}
		Spent *struct {
			RequestsThisMinute int64 `json:"requests_this_minute"`
			TokensToday        int64 `json:"tokens_today"`
		}
		Models []struct {
			Model                     string
			Requests                  int64
			InputTokens, OutputTokens int64 `json:"-"`
			In                        int64 `json:"input_tokens"`
			Out                       int64 `json:"output_tokens"`
		}
	}
}

func getUsage(t *testing.T, base, key string) usageAnswer {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/usage", nil)
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("/api/usage: %d %s", resp.StatusCode, b)
	}
	var u usageAnswer
	json.NewDecoder(resp.Body).Decode(&u)
	return u
}

// /api/usage: a key sees its own calls by model, every step of an agent answer and a
// knowledge-base answer included, with its limits and what it spent; an admin key sees
// every key's; a GENAI_API_KEYS key is counted by its name.
func TestKeyUsage(t *testing.T) {
	bedrockUpstream(t, bedrocktest.Options{})
	base := limitsServer(t, map[string]string{"GENAI_API_KEYS": "0123456789abcdef", "GENAI_API_KEYS_FILE": keysFile(t,
		keyEntry{"name": "admin", "admin": true}, keyEntry{"name": "team-a", "requests_per_minute": 100})})
	key := secretOf("team-a")
	if got := rawCall(t, base+"/api/chat", key, `{"messages":[{"role":"user","content":"highest tides"}],"server_tools":["knowledge_base"]}`); got != nil {
		t.Fatalf("agent: %+v", got)
	}
	if got := rawCall(t, base+"/api/kb/answer", key, `{"query":"what causes the highest tides?","stream":false}`); got != nil {
		t.Fatalf("kb answer: %+v", got)
	}
	if got := rawCall(t, base+"/api/chat", "0123456789abcdef", `{"messages":[{"role":"user","content":"hello there"}]}`); got != nil {
		t.Fatalf("env key: %+v", got)
	}
	u := getUsage(t, base, key)
	if len(u.Keys) != 1 || u.Keys[0].Key != "team-a" || len(u.Keys[0].Models) != 1 {
		t.Fatalf("usage of team-a: %+v", u)
	}
	m := u.Keys[0].Models[0]
	// The agent made two calls (the tool call, then the answer), the KB answer one.
	if m.Model != DefaultBedrockModel || m.Requests != 3 || m.In == 0 || m.Out == 0 {
		t.Errorf("team-a's usage: %+v, want 3 requests with tokens", m)
	}
	if u.Keys[0].Limits == nil || u.Keys[0].Limits.RequestsPerMinute != 100 || u.Keys[0].Spent == nil || u.Keys[0].Spent.TokensToday != m.In+m.Out {
		t.Errorf("team-a's limits and spent: %+v %+v", u.Keys[0].Limits, u.Keys[0].Spent)
	}
	all := getUsage(t, base, secretOf("admin"))
	var names []string
	for _, k := range all.Keys {
		names = append(names, k.Key)
	}
	envName := "key:" + sha("0123456789abcdef")[:16]
	if fmt.Sprint(names) != fmt.Sprint([]string{"admin", envName, "team-a"}) {
		t.Errorf("the admin sees keys %v", names)
	}
	if u := getUsage(t, base, "0123456789abcdef"); len(u.Keys) != 1 || u.Keys[0].Key != envName || len(u.Keys[0].Models) != 1 || u.Keys[0].Models[0].Requests != 1 {
		t.Errorf("the env key's usage: %+v", u)
	}
	metrics := metricsText(t, base, secretOf("admin"))
	for _, want := range []string{
		`genai_key_requests_total{code="ok",key="team-a",model="` + DefaultBedrockModel + `"} 3`,
		`genai_key_tokens_total{direction="output",key="team-a",model="` + DefaultBedrockModel + `"} ` + strconv.FormatInt(m.Out, 10),
		`genai_key_tokens_total{direction="input",key="` + envName + `",model="` + DefaultBedrockModel + `"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// An agent answer whose later step is over the key's limit ends with an error event of
// code rate_limited, after the steps it was allowed.
func TestKeyLimitMidAgent(t *testing.T) {
	bedrockUpstream(t, bedrocktest.Options{})
	base := limitsServer(t, map[string]string{"GENAI_API_KEYS_FILE": keysFile(t,
		keyEntry{"name": "admin", "admin": true}, keyEntry{"name": "one", "requests_per_minute": 1})})
	awayFromMinuteEnd(t, 5*time.Second)
	req, _ := http.NewRequest("POST", base+"/api/chat", strings.NewReader(`{"messages":[{"role":"user","content":"highest tides"}],"server_tools":["knowledge_base"]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", secretOf("one"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	if resp.StatusCode != 200 || !strings.Contains(body, "event: tool_result") || !strings.Contains(body, "event: error") ||
		!strings.Contains(body, `"code":"rate_limited"`) || !strings.Contains(body, "requests_per_minute") {
		t.Errorf("agent over its limit at step 2: %d %s", resp.StatusCode, body)
	}
}
