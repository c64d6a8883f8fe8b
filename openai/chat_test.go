package openai_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"genai"
	"genai/openai"
	"genai/openai/openaitest"
)

// waitLong bounds waits for something that should happen at once, so that a bug fails
// the test instead of hanging it; it is no timing assertion.
const waitLong = 10 * time.Second

func newModel(t *testing.T, srv *openaitest.Server, opts openai.Options) *openai.ChatModel {
	t.Helper()
	opts.BaseURL = srv.URL
	if opts.DefaultModel == "" {
		opts.DefaultModel = "test-model"
	}
	return openai.New(opts)
}

func userText(s string) *genai.ChatRequest {
	return &genai.ChatRequest{Messages: []genai.Message{genai.TextMessage(genai.RoleUser, s)}}
}

// collect drains a stream into its text events, its final event and its error.
func collect(seq func(func(genai.Event, error) bool)) (texts []string, done genai.Event, err error) {
	for ev, err := range seq {
		if err != nil {
			return texts, done, err
		}
		if ev.Done {
			done = ev
			continue
		}
		texts = append(texts, ev.Text)
	}
	return texts, done, nil
}

func wantCode(t *testing.T, err error, code string) *genai.Error {
	t.Helper()
	var e *genai.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error = %v, want code %s", err, code)
	}
	return e
}

func TestStreamYieldsTextThenDone(t *testing.T) {
	tokens := []string{"Hel", "lo", ", ", "wor", "ld", "!"}
	srv := openaitest.New(openaitest.Config{Reply: func(*openaitest.ChatRequest) []string { return tokens }})
	defer srv.Close()

	texts, done, err := collect(newModel(t, srv, openai.Options{}).Stream(t.Context(), userText("say hello to the world")))
	if err != nil {
		t.Fatal(err)
	}
	// Tokens that arrived together may come as one event (see TestStreamYieldsEachDeltaAsItArrives).
	if got, want := strings.Join(texts, ""), strings.Join(tokens, ""); got != want {
		t.Errorf("texts = %q, want %q", texts, want)
	}
	want := genai.Event{Done: true, StopReason: "end_turn", Usage: genai.Usage{InputTokens: 5, OutputTokens: len(tokens)}}
	if !reflect.DeepEqual(done, want) {
		t.Errorf("final event = %+v, want %+v", done, want)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || !reqs[0].Stream || reqs[0].StreamOptions == nil || !reqs[0].StreamOptions.IncludeUsage {
		t.Errorf("request did not ask for a stream with usage: %+v", reqs)
	}
}

// TestStreamYieldsEachDeltaAsItArrives checks that the relay holds no text back: the
// server sends its next chunk only once the consumer has the previous one, so a
// reader that waited for more before yielding would hang here.
func TestStreamYieldsEachDeltaAsItArrives(t *testing.T) {
	tokens := []string{"one ", "two ", "three"}
	got := make(chan string)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i, tok := range tokens {
			fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":%q},\"finish_reason\":null}]}\n\n", tok)
			w.(http.Flusher).Flush()
			select {
			case text := <-got:
				if text != tokens[i] {
					return // the consumer saw something else: it fails below
				}
			case <-time.After(waitLong):
				return
			case <-r.Context().Done():
				return
			}
		}
		fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
	}))
	defer srv.Close()
	m := openai.New(openai.Options{BaseURL: srv.URL, DefaultModel: "m"})
	var texts []string
	for ev, err := range m.Stream(t.Context(), userText("count")) {
		if err != nil {
			t.Fatalf("after %q: %v", texts, err)
		}
		if ev.Text != "" {
			texts = append(texts, ev.Text)
			got <- ev.Text
		}
	}
	if !slices.Equal(texts, tokens) {
		t.Errorf("texts = %q, want %q, one event per chunk sent alone", texts, tokens)
	}
}

func TestStreamMaxTokensStopReason(t *testing.T) {
	srv := openaitest.New(openaitest.Config{})
	defer srv.Close()
	req := userText("one two three four five")
	req.MaxTokens = 2

	texts, done, err := collect(newModel(t, srv, openai.Options{DefaultMaxTokens: 100}).Stream(t.Context(), req))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(texts, ""); got != "one two " {
		t.Errorf("text = %q, want %q", got, "one two ")
	}
	if done.StopReason != "max_tokens" || done.Usage.OutputTokens != 2 {
		t.Errorf("final event = %+v, want stop reason max_tokens and 2 output tokens", done)
	}
	got := srv.Requests()[0]
	if got.MaxTokens == nil || *got.MaxTokens != 2 || got.MaxCompletionTokens != nil {
		t.Errorf("max_tokens = %v, max_completion_tokens = %v; want 2 and absent", got.MaxTokens, got.MaxCompletionTokens)
	}
}

func TestImagesArriveByteExact(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n")
	for i := range 1000 {
		png = append(png, byte(i*7))
	}
	jpeg := append([]byte("\xff\xd8\xff\xe0"), bytes.Repeat([]byte{0, 0xff, 0x80}, 333)...)
	srv := openaitest.New(openaitest.Config{})
	defer srv.Close()
	req := &genai.ChatRequest{Messages: []genai.Message{{Role: genai.RoleUser, Content: []genai.ContentBlock{
		{Type: genai.BlockText, Text: "What differs between these?"},
		{Type: genai.BlockImage, Image: &genai.Image{Format: "png", Data: png}},
		{Type: genai.BlockImage, Image: &genai.Image{Format: "jpeg", Data: jpeg}},
	}}}}

	if _, _, err := collect(newModel(t, srv, openai.Options{}).Stream(t.Context(), req)); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Requests()[0].Messages
	if len(msgs) != 1 || msgs[0].Role != "user" || msgs[0].ContentIsString || len(msgs[0].Content) != 3 {
		t.Fatalf("messages = %+v, want one user message of three parts", msgs)
	}
	parts := msgs[0].Content
	if parts[0].Type != "text" || parts[0].Text != "What differs between these?" {
		t.Errorf("part 0 = %+v, want the text", parts[0])
	}
	for i, want := range []struct {
		mediaType string
		data      []byte
	}{{"image/png", png}, {"image/jpeg", jpeg}} {
		p := parts[i+1]
		if p.Type != "image_url" || p.ImageURL == nil {
			t.Fatalf("part %d = %+v, want an image_url part", i+1, p)
		}
		mediaType, data, err := openaitest.DecodeDataURL(p.ImageURL.URL)
		if err != nil {
			t.Fatalf("part %d: %v", i+1, err)
		}
		if mediaType != want.mediaType || !bytes.Equal(data, want.data) {
			t.Errorf("part %d = %s, %d bytes; want %s, %d bytes, byte-exact", i+1, mediaType, len(data), want.mediaType, len(want.data))
		}
	}
}

func TestRequestArrivesAsSent(t *testing.T) {
	srv := openaitest.New(openaitest.Config{})
	defer srv.Close()
	temp, topP := 0.25, 0.9
	req := &genai.ChatRequest{
		Model:  "llama3.2:3b",
		System: "You are terse.",
		Messages: []genai.Message{
			genai.TextMessage(genai.RoleUser, "Hi"),
			genai.TextMessage(genai.RoleAssistant, "Hello."),
			genai.TextMessage(genai.RoleUser, "Name a colour."),
		},
		Temperature:   &temp,
		TopP:          &topP,
		StopSequences: []string{"\n\n", "END"},
	}

	texts, _, err := collect(newModel(t, srv, openai.Options{DefaultMaxTokens: 321}).Stream(t.Context(), req))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(texts, ""); got != "Name a colour." {
		t.Errorf("echoed text = %q", got)
	}
	got := srv.Requests()[0]
	if got.Model != "llama3.2:3b" {
		t.Errorf("model = %q", got.Model)
	}
	var roles, contents []string
	for _, m := range got.Messages {
		roles = append(roles, m.Role)
		contents = append(contents, m.Text())
		if !m.ContentIsString {
			t.Errorf("%s message sent as parts, want a plain string", m.Role)
		}
	}
	if want := []string{"system", "user", "assistant", "user"}; !slices.Equal(roles, want) {
		t.Errorf("roles = %q, want %q", roles, want)
	}
	if want := []string{"You are terse.", "Hi", "Hello.", "Name a colour."}; !slices.Equal(contents, want) {
		t.Errorf("contents = %q, want %q", contents, want)
	}
	if got.Temperature == nil || *got.Temperature != temp || got.TopP == nil || *got.TopP != topP {
		t.Errorf("temperature = %v, top_p = %v", got.Temperature, got.TopP)
	}
	if !slices.Equal(got.Stop, []string{"\n\n", "END"}) {
		t.Errorf("stop = %q", got.Stop)
	}
	if got.MaxTokens == nil || *got.MaxTokens != 321 {
		t.Errorf("max_tokens = %v, want the default 321", got.MaxTokens)
	}
}

func TestDefaultsLeaveSettingsOut(t *testing.T) {
	srv := openaitest.New(openaitest.Config{})
	defer srv.Close()
	if _, _, err := collect(newModel(t, srv, openai.Options{}).Stream(t.Context(), userText("hi"))); err != nil {
		t.Fatal(err)
	}
	got := srv.Requests()[0]
	if got.Model != "test-model" {
		t.Errorf("model = %q, want the default", got.Model)
	}
	if got.MaxTokens != nil || got.Temperature != nil || got.TopP != nil || got.Stop != nil {
		t.Errorf("unset settings were sent: %+v", got)
	}
}

func TestNoModelIsInvalid(t *testing.T) {
	m := openai.New(openai.Options{BaseURL: "http://127.0.0.1:1/v1"})
	_, _, err := collect(m.Stream(t.Context(), userText("hi")))
	wantCode(t, err, genai.EINVALID)
}

func TestInvalidRequestIsNotSent(t *testing.T) {
	srv := openaitest.New(openaitest.Config{})
	defer srv.Close()
	req := userText("hi")
	req.Messages = append(req.Messages, genai.Message{Role: "tool", Content: []genai.ContentBlock{{Type: genai.BlockText, Text: "x"}}})
	_, _, err := collect(newModel(t, srv, openai.Options{}).Stream(t.Context(), req))
	wantCode(t, err, genai.EINVALID)
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests reached the server", n)
	}
}

func TestThrottledThenRetried(t *testing.T) {
	srv := openaitest.New(openaitest.Config{Throttle: 2})
	defer srv.Close()
	texts, done, err := collect(newModel(t, srv, openai.Options{}).Stream(t.Context(), userText("after the storm")))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(texts, ""); got != "after the storm" || !done.Done {
		t.Errorf("text = %q, done = %v", got, done.Done)
	}
	if n := len(srv.Requests()); n != 3 {
		t.Errorf("server saw %d requests, want 3 (two throttled, one answered)", n)
	}
}

func TestPersistentThrottleIsThrottled(t *testing.T) {
	srv := openaitest.New(openaitest.Config{Throttle: 1000, RetryAfter: 30 * time.Millisecond})
	defer srv.Close()
	m := newModel(t, srv, openai.Options{})

	_, _, err := collect(m.Stream(t.Context(), userText("hi")))
	e := wantCode(t, err, genai.ETHROTTLED)
	if e.RetryAfter <= 0 {
		t.Errorf("RetryAfter = %v, want > 0", e.RetryAfter)
	}
	if n := len(srv.Requests()); n != 1+openai.DefaultMaxRetries {
		t.Errorf("server saw %d requests, want %d", n, 1+openai.DefaultMaxRetries)
	}

	_, err = m.Chat(t.Context(), userText("hi"))
	if e := wantCode(t, err, genai.ETHROTTLED); e.RetryAfter <= 0 {
		t.Errorf("Chat: RetryAfter = %v, want > 0", e.RetryAfter)
	}
}

func TestNoRetriesWhenDisabled(t *testing.T) {
	srv := openaitest.New(openaitest.Config{Throttle: 1})
	defer srv.Close()
	_, _, err := collect(newModel(t, srv, openai.Options{MaxRetries: -1}).Stream(t.Context(), userText("hi")))
	wantCode(t, err, genai.ETHROTTLED)
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

func TestBadRequestIsInvalid(t *testing.T) {
	srv := openaitest.New(openaitest.Config{Reject: func(*openaitest.ChatRequest) (int, string) {
		return http.StatusBadRequest, "'temperature' is not supported with this model."
	}})
	defer srv.Close()
	_, _, err := collect(newModel(t, srv, openai.Options{}).Stream(t.Context(), userText("hi")))
	e := wantCode(t, err, genai.EINVALID)
	if !strings.Contains(e.Message, "'temperature' is not supported") {
		t.Errorf("message = %q, want the upstream message", e.Message)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("a 400 was retried: %d requests", n)
	}
}

func TestServerErrorIsUpstream(t *testing.T) {
	srv := openaitest.New(openaitest.Config{Reject: func(*openaitest.ChatRequest) (int, string) {
		return http.StatusServiceUnavailable, "overloaded"
	}})
	defer srv.Close()
	_, err := newModel(t, srv, openai.Options{MaxRetries: -1}).Chat(t.Context(), userText("hi"))
	e := wantCode(t, err, genai.EUPSTREAM)
	if !strings.Contains(e.Message, "503") || !strings.Contains(e.Message, "overloaded") {
		t.Errorf("message = %q, want the status and the upstream message", e.Message)
	}
}

func TestMidStreamErrorAfterText(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode openaitest.FailMode
	}{{"error event", openaitest.FailError}, {"cut connection", openaitest.FailCut}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := openaitest.New(openaitest.Config{Fail: tc.mode, FailAfter: 2})
			defer srv.Close()
			texts, done, err := collect(newModel(t, srv, openai.Options{}).Stream(t.Context(), userText("one two three four")))
			if got := strings.Join(texts, ""); got != "one two " {
				t.Errorf("text before the error = %q, want %q", got, "one two ")
			}
			if done.Done {
				t.Error("a broken stream yielded a final event")
			}
			e := wantCode(t, err, genai.EUPSTREAM)
			if tc.mode == openaitest.FailError && !strings.Contains(e.Message, "The server had an error") {
				t.Errorf("message = %q, want the upstream message", e.Message)
			}
			t.Log(e.Message)
		})
	}
}

func TestStreamEndingWithoutFinishIsUpstream(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, `data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"partial"},"finish_reason":null}]}`+"\n\n")
	}))
	defer srv.Close()
	m := openai.New(openai.Options{BaseURL: srv.URL, DefaultModel: "m"})
	texts, _, err := collect(m.Stream(t.Context(), userText("hi")))
	if !slices.Equal(texts, []string{"partial"}) {
		t.Errorf("texts = %q", texts)
	}
	wantCode(t, err, genai.EUPSTREAM)
}

func TestNonOpenAIErrorBodies(t *testing.T) {
	for _, tc := range []struct {
		status      int
		contentType string
		body        string
		code        string
		want        string
	}{
		{404, "application/json", `{"error":"model \"llama9\" not found, try pulling it first"}`, genai.EUPSTREAM, `model "llama9" not found`},
		{502, "text/plain", "Bad Gateway from the proxy", genai.EUPSTREAM, "Bad Gateway from the proxy"},
		{400, "application/json", `{"message":"messages: bad"}`, genai.EINVALID, "messages: bad"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", tc.contentType)
			w.WriteHeader(tc.status)
			fmt.Fprint(w, tc.body)
		}))
		m := openai.New(openai.Options{BaseURL: srv.URL + "/v1", DefaultModel: "m", MaxRetries: -1})
		_, _, err := collect(m.Stream(t.Context(), userText("hi")))
		e := wantCode(t, err, tc.code)
		if !strings.Contains(e.Message, tc.want) {
			t.Errorf("HTTP %d: message = %q, want it to contain %q", tc.status, e.Message, tc.want)
		}
		srv.Close()
	}
}

func TestConsumerBreakCancelsUpstream(t *testing.T) {
	srv := openaitest.New(openaitest.Config{
		Reply:      func(*openaitest.ChatRequest) []string { return slices.Repeat([]string{"tok "}, 10000) },
		TokenDelay: 5 * time.Millisecond,
	})
	defer srv.Close()
	for ev, err := range newModel(t, srv, openai.Options{}).Stream(t.Context(), userText("go on")) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Text != "" {
			break
		}
	}
	select {
	case <-srv.Canceled():
	case <-time.After(waitLong):
		t.Fatal("the server never saw the request canceled after the consumer stopped")
	}
}

func TestContextCancelBeforeFirstToken(t *testing.T) {
	started := make(chan struct{})
	srv := openaitest.New(openaitest.Config{
		Reply:           func(*openaitest.ChatRequest) []string { close(started); return []string{"never"} },
		FirstTokenDelay: time.Hour,
	})
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-started
		cancel()
	}()
	texts, _, err := collect(newModel(t, srv, openai.Options{}).Stream(ctx, userText("hi")))
	if len(texts) != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("texts = %q, err = %v; want no text and context.Canceled", texts, err)
	}
	select {
	case <-srv.Canceled():
	case <-time.After(waitLong):
		t.Fatal("the server never saw the request canceled")
	}
}

func TestContextCancelMidStream(t *testing.T) {
	srv := openaitest.New(openaitest.Config{
		Reply:      func(*openaitest.ChatRequest) []string { return slices.Repeat([]string{"tok "}, 10000) },
		TokenDelay: 5 * time.Millisecond,
	})
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var err error
	for ev, e := range newModel(t, srv, openai.Options{}).Stream(ctx, userText("go on")) {
		if e != nil {
			err = e
			break
		}
		if ev.Text != "" {
			cancel() // and keep reading: the stream must end with ctx's error
		}
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	select {
	case <-srv.Canceled():
	case <-time.After(waitLong):
		t.Fatal("the server never saw the request canceled")
	}
}

func TestChat(t *testing.T) {
	srv := openaitest.New(openaitest.Config{Reply: func(*openaitest.ChatRequest) []string { return []string{"Blue", "."} }})
	defer srv.Close()
	res, err := newModel(t, srv, openai.Options{}).Chat(t.Context(), userText("Name a colour."))
	if err != nil {
		t.Fatal(err)
	}
	want := genai.ChatResponse{Model: "test-model", Text: "Blue.", Content: []genai.ContentBlock{{Type: genai.BlockText, Text: "Blue."}},
		StopReason: "end_turn", Usage: genai.Usage{InputTokens: 3, OutputTokens: 2}}
	if !reflect.DeepEqual(*res, want) {
		t.Errorf("response = %+v, want %+v", *res, want)
	}
	got := srv.Requests()[0]
	if got.Stream || got.StreamOptions != nil {
		t.Errorf("Chat asked for a stream: %+v", got)
	}
}

func TestChatFailures(t *testing.T) {
	for _, mode := range []openaitest.FailMode{openaitest.FailError, openaitest.FailCut} {
		srv := openaitest.New(openaitest.Config{Fail: mode})
		_, err := newModel(t, srv, openai.Options{MaxRetries: -1}).Chat(t.Context(), userText("hi"))
		wantCode(t, err, genai.EUPSTREAM)
		srv.Close()
	}
}

func TestAPIKeySentAsBearer(t *testing.T) {
	srv := openaitest.New(openaitest.Config{APIKey: "sk-test-123"})
	defer srv.Close()
	if _, err := newModel(t, srv, openai.Options{APIKey: "sk-test-123"}).Chat(t.Context(), userText("hi")); err != nil {
		t.Fatal(err)
	}
	if got := srv.Requests()[0].Header.Get("Authorization"); got != "Bearer sk-test-123" {
		t.Errorf("Authorization = %q", got)
	}

	_, err := newModel(t, srv, openai.Options{APIKey: "sk-wrong"}).Chat(t.Context(), userText("hi"))
	if e := wantCode(t, err, genai.EUPSTREAM); !strings.Contains(e.Message, "credentials") || !strings.Contains(e.Message, "401") {
		t.Errorf("message = %q, want it to name the credential problem", e.Message)
	}
	_, err = newModel(t, srv, openai.Options{}).Chat(t.Context(), userText("hi"))
	if e := wantCode(t, err, genai.EUPSTREAM); !strings.Contains(e.Message, "none is configured") {
		t.Errorf("message = %q, want it to say no key is configured", e.Message)
	}
}

func TestNoAPIKeyNoAuthorization(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-from-the-environment")
	t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
	t.Setenv("OPENAI_ORG_ID", "org-from-the-environment")
	srv := openaitest.New(openaitest.Config{})
	defer srv.Close()
	if _, err := newModel(t, srv, openai.Options{}).Chat(t.Context(), userText("hi")); err != nil {
		t.Fatal(err)
	}
	h := srv.Requests()[0].Header
	if got := h.Values("Authorization"); len(got) != 0 {
		t.Errorf("Authorization = %q, want none", got)
	}
	if got := h.Get("OpenAI-Organization"); got != "" {
		t.Errorf("OpenAI-Organization = %q, want none", got)
	}
}

func TestUnreachableBaseURL(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String() + "/v1"
	l.Close() // nothing listens there now: connections are refused

	m := openai.New(openai.Options{BaseURL: base, DefaultModel: "m", MaxRetries: -1})
	_, _, err = collect(m.Stream(t.Context(), userText("hi")))
	e := wantCode(t, err, genai.EUPSTREAM)
	if !strings.Contains(e.Message, "cannot reach "+base) {
		t.Errorf("message = %q, want it to name %s", e.Message, base)
	}
	t.Log(e.Message)

	_, err = m.Models(t.Context())
	if e := wantCode(t, err, genai.EUPSTREAM); !strings.Contains(e.Message, base) {
		t.Errorf("Models: message = %q, want it to name %s", e.Message, base)
	}
}

func TestBadBaseURL(t *testing.T) {
	for _, base := range []string{"localhost:11434/v1", "ftp://example.com", "http://%zz"} {
		m := openai.New(openai.Options{BaseURL: base, DefaultModel: "m"})
		_, _, err := collect(m.Stream(t.Context(), userText("hi")))
		if e := wantCode(t, err, genai.EUPSTREAM); !strings.Contains(e.Message, "base URL") {
			t.Errorf("%s: message = %q", base, e.Message)
		}
	}
}

func TestModels(t *testing.T) {
	srv := openaitest.New(openaitest.Config{Models: []string{"llama3.2:3b", "qwen2.5vl:7b"}, APIKey: "k"})
	defer srv.Close()
	ids, err := newModel(t, srv, openai.Options{APIKey: "k"}).Models(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []string{"llama3.2:3b", "qwen2.5vl:7b"}) {
		t.Errorf("models = %q", ids)
	}
}

// TestLive runs against a real endpoint when GENAI_TEST_OPENAI_URL names one, such as
// http://localhost:11434/v1 for Ollama, with GENAI_TEST_OPENAI_MODEL and optionally
// GENAI_TEST_OPENAI_API_KEY.
func TestLive(t *testing.T) {
	base := os.Getenv("GENAI_TEST_OPENAI_URL")
	if base == "" {
		t.Skip("GENAI_TEST_OPENAI_URL is not set")
	}
	m := openai.New(openai.Options{
		BaseURL:      base,
		APIKey:       os.Getenv("GENAI_TEST_OPENAI_API_KEY"),
		DefaultModel: os.Getenv("GENAI_TEST_OPENAI_MODEL"),
	})
	ids, err := m.Models(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("models: %q", ids)
	req := userText("Reply with the single word: pong")
	req.MaxTokens = 20
	texts, done, err := collect(m.Stream(t.Context(), req))
	if err != nil {
		t.Fatal(err)
	}
	if len(texts) == 0 || !done.Done || done.StopReason == "" {
		t.Errorf("texts = %q, final = %+v", texts, done)
	}
	t.Logf("answer %q, %+v", strings.Join(texts, ""), done)
}

// BenchmarkStream measures the client's cost per streamed token against the in-process
// server, which answers at once. The "raw" case reads the same stream with net/http and
// a line scanner, the least any client can do; compare the two ns/token figures. The
// "ratio" case runs one of each in turn, so that the load of other processes falls on
// both alike, and prints ChatModel's time over raw's.
func BenchmarkStream(b *testing.B) {
	tokens := slices.Repeat([]string{"word "}, 200)
	srv := openaitest.New(openaitest.Config{Reply: func(*openaitest.ChatRequest) []string { return tokens }})
	defer srv.Close()
	perToken := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(tokens)), "ns/token")
	}
	raw := func(b *testing.B) {
		body := `{"model":"test-model","stream":true,"messages":[{"role":"user","content":"go"}]}`
		res, err := http.Post(srv.URL+"/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
		}
		res.Body.Close()
	}
	m := openai.New(openai.Options{BaseURL: srv.URL, DefaultModel: "test-model"})
	req := userText("go")
	model := func(b *testing.B) {
		if _, _, err := collect(m.Stream(b.Context(), req)); err != nil {
			b.Fatal(err)
		}
	}

	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			raw(b)
		}
		perToken(b)
	})
	b.Run("ChatModel", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			model(b)
		}
		perToken(b)
	})
	b.Run("ratio", func(b *testing.B) {
		var rawTime, modelTime time.Duration
		for b.Loop() {
			t0 := time.Now()
			raw(b)
			t1 := time.Now()
			model(b)
			rawTime, modelTime = rawTime+t1.Sub(t0), modelTime+time.Since(t1)
		}
		b.ReportMetric(float64(modelTime)/float64(rawTime), "ChatModel/raw")
	})
}

// OpenAI-compatible endpoints take what Claude on Bedrock does not: a temperature over
// 1, two user turns in a row, a model id with @. None is refused before the call.
func TestOpenAIRangesAreNotClaudes(t *testing.T) {
	srv := openaitest.New(openaitest.Config{})
	defer srv.Close()
	hot := 1.5
	req := userText("hi")
	req.Model, req.Temperature = "gpt-4o@2024", &hot
	req.Messages = append(req.Messages, genai.TextMessage(genai.RoleUser, "again"))
	if _, _, err := collect(newModel(t, srv, openai.Options{}).Stream(t.Context(), req)); err != nil {
		t.Fatalf("refused: %v", err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests reached the server, want 1", n)
	}
}
