package bedrock_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"genai"
	"genai/bedrock"
	"genai/bedrock/bedrocktest"
)

// waitTimeout bounds waits for something the server must see; generous, because it
// guards against hangs, not slowness.
const waitTimeout = 10 * time.Second

// newModel returns a ChatModel that talks to srv through the real SDK client, signing
// with static test credentials.
func newModel(t testing.TB, srv *bedrocktest.Server, opts bedrock.Options) *bedrock.ChatModel {
	t.Helper()
	if tt, ok := t.(*testing.T); ok {
		tt.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	}
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = 5 * time.Millisecond
	}
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""),
		BaseEndpoint: aws.String(srv.URL),
	}
	return bedrock.New(cfg, opts)
}

func newServer(t testing.TB, opts bedrocktest.Options) *bedrocktest.Server {
	srv := bedrocktest.NewServer(opts)
	t.Cleanup(srv.Close)
	return srv
}

func userText(s string) *genai.ChatRequest {
	return &genai.ChatRequest{Messages: []genai.Message{genai.TextMessage(genai.RoleUser, s)}}
}

// collect runs a stream to its end and returns the texts, the final event and the error.
func collect(t *testing.T, seq func(func(genai.Event, error) bool)) (texts []string, final genai.Event, err error) {
	t.Helper()
	for ev, e := range seq {
		if e != nil {
			return texts, final, e
		}
		if ev.Done {
			final = ev
			continue
		}
		if final.Done {
			t.Fatalf("event %+v after the Done event", ev)
		}
		texts = append(texts, ev.Text)
	}
	return texts, final, nil
}

func waitStats(t *testing.T, srv *bedrocktest.Server, what string, cond func(bedrocktest.Stats) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := srv.Wait(ctx, cond); err != nil {
		t.Fatalf("server never saw %s: %v", what, err)
	}
}

func TestStreamText(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{})

	texts, final, err := collect(t, m.Stream(context.Background(), userText("hello there world")))
	if err != nil {
		t.Fatal(err)
	}
	// Deltas that arrive together may be merged into one event; the text is exact.
	if got := strings.Join(texts, ""); got != "You said: hello there world" {
		t.Errorf("texts = %q, want them to join to %q", texts, "You said: hello there world")
	}
	if !final.Done || final.StopReason != "end_turn" {
		t.Errorf("final event = %+v, want Done with end_turn", final)
	}
	if final.Usage != (genai.Usage{InputTokens: 3, OutputTokens: 5}) {
		t.Errorf("usage = %+v, want 3 in, 5 out", final.Usage)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("server got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Operation != "ConverseStream" || r.ModelID != bedrock.DefaultModel {
		t.Errorf("operation %q model %q, want ConverseStream %q", r.Operation, r.ModelID, bedrock.DefaultModel)
	}
	if r.InferenceConfig == nil || r.InferenceConfig.MaxTokens == nil || *r.InferenceConfig.MaxTokens != bedrock.DefaultMaxTokens {
		t.Errorf("inferenceConfig = %+v, want maxTokens %d", r.InferenceConfig, bedrock.DefaultMaxTokens)
	}
	if r.InferenceConfig != nil && (r.InferenceConfig.Temperature != nil || r.InferenceConfig.TopP != nil) {
		t.Errorf("temperature/topP sent though unset: %+v", r.InferenceConfig)
	}
	if !strings.HasPrefix(r.Authorization, "AWS4-HMAC-SHA256 Credential=AKIDTEST/") {
		t.Errorf("Authorization = %q, want a SigV4 signature with the test key", r.Authorization)
	}
}

// Tokens that arrive apart, as a model makes them, are yielded one event each, at once.
func TestStreamYieldsTokensAsTheyArrive(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{TokenDelay: 30 * time.Millisecond})
	m := newModel(t, srv, bedrock.Options{})
	texts, _, err := collect(t, m.Stream(context.Background(), userText("hello there world")))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"You ", "said: ", "hello ", "there ", "world"}; strings.Join(texts, "|") != strings.Join(want, "|") {
		t.Errorf("texts = %q, want %q", texts, want)
	}
}

func TestStreamStopReasonAndUsageFromReply(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{Reply: func(*bedrocktest.Request) bedrocktest.Reply {
		return bedrocktest.Reply{Tokens: []string{"a", "b"}, StopReason: "max_tokens", InputTokens: 11, OutputTokens: 22}
	}})
	m := newModel(t, srv, bedrock.Options{})
	texts, final, err := collect(t, m.Stream(context.Background(), userText("hi")))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(texts, "") != "ab" || final.StopReason != "max_tokens" || final.Usage != (genai.Usage{InputTokens: 11, OutputTokens: 22}) {
		t.Errorf("texts %q final %+v", texts, final)
	}
}

func testImage(format string) []byte {
	var head []byte
	switch format {
	case "png":
		head = []byte("\x89PNG\r\n\x1a\n")
	case "jpeg":
		head = []byte("\xff\xd8\xff\xe0")
	case "gif":
		head = []byte("GIF89a")
	case "webp":
		head = []byte("RIFF\x00\x00\x00\x00WEBPVP8 ")
	}
	data := append([]byte(nil), head...)
	for i := range 3000 { // every byte value, several times, to catch any re-encoding
		data = append(data, byte(i*7))
	}
	return data
}

func TestStreamImagesArriveByteExact(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{})

	formats := []string{"png", "jpeg", "gif", "webp"}
	content := []genai.ContentBlock{{Type: genai.BlockText, Text: "what is in these?"}}
	for _, f := range formats {
		content = append(content, genai.ContentBlock{Type: genai.BlockImage, Image: &genai.Image{Format: f, Data: testImage(f)}})
	}
	req := &genai.ChatRequest{Messages: []genai.Message{{Role: genai.RoleUser, Content: content}}}
	if _, _, err := collect(t, m.Stream(context.Background(), req)); err != nil {
		t.Fatal(err)
	}
	got := srv.Requests()[0].Messages[0].Content
	if len(got) != 1+len(formats) || got[0].Text != "what is in these?" {
		t.Fatalf("content = %+v", got)
	}
	for i, f := range formats {
		im := got[i+1].Image
		if im == nil {
			t.Fatalf("block %d is not an image: %+v", i+1, got[i+1])
		}
		if im.Format != f {
			t.Errorf("block %d format = %q, want %q", i+1, im.Format, f)
		}
		if !bytes.Equal(im.Source.Bytes, testImage(f)) {
			t.Errorf("block %d: %d bytes arrived, differing from the %d sent", i+1, len(im.Source.Bytes), len(testImage(f)))
		}
	}
}

func TestStreamConversationSystemAndInferenceConfig(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{DefaultModel: "amazon.nova-lite-v1:0"})

	temp, topP := 0.25, 0.9
	req := &genai.ChatRequest{
		System: "You are terse.",
		Messages: []genai.Message{
			genai.TextMessage(genai.RoleUser, "first question"),
			genai.TextMessage(genai.RoleAssistant, "first answer"),
			genai.TextMessage(genai.RoleUser, "second question"),
		},
		MaxTokens:     300,
		Temperature:   &temp,
		TopP:          &topP,
		StopSequences: []string{"END", "\n\nHuman:"},
	}
	texts, _, err := collect(t, m.Stream(context.Background(), req))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(texts, ""); got != "You said: second question" {
		t.Errorf("answer = %q", got)
	}
	r := srv.Requests()[0]
	if r.ModelID != "amazon.nova-lite-v1:0" {
		t.Errorf("model = %q, want the configured default", r.ModelID)
	}
	if len(r.System) != 1 || r.System[0].Text != "You are terse." {
		t.Errorf("system = %+v", r.System)
	}
	wantMsgs := []struct{ role, text string }{{"user", "first question"}, {"assistant", "first answer"}, {"user", "second question"}}
	if len(r.Messages) != len(wantMsgs) {
		t.Fatalf("got %d messages, want %d", len(r.Messages), len(wantMsgs))
	}
	for i, w := range wantMsgs {
		if g := r.Messages[i]; g.Role != w.role || len(g.Content) != 1 || g.Content[0].Text != w.text {
			t.Errorf("message %d = %+v, want %s %q", i, g, w.role, w.text)
		}
	}
	ic := r.InferenceConfig
	if ic == nil || ic.MaxTokens == nil || *ic.MaxTokens != 300 {
		t.Fatalf("inferenceConfig = %+v, want maxTokens 300", ic)
	}
	if ic.Temperature == nil || math.Abs(*ic.Temperature-temp) > 1e-6 {
		t.Errorf("temperature = %v, want %v", ic.Temperature, temp)
	}
	if ic.TopP == nil || math.Abs(*ic.TopP-topP) > 1e-6 {
		t.Errorf("topP = %v, want %v", ic.TopP, topP)
	}
	if strings.Join(ic.StopSequences, "|") != "END|\n\nHuman:" {
		t.Errorf("stopSequences = %q", ic.StopSequences)
	}
}

func TestInferenceProfileAndARNPassThrough(t *testing.T) {
	for _, model := range []string{
		"us.anthropic.claude-3-5-sonnet-20240620-v1:0",
		"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0",
	} {
		srv := newServer(t, bedrocktest.Options{})
		m := newModel(t, srv, bedrock.Options{})
		req := userText("hi")
		req.Model = model
		if _, _, err := collect(t, m.Stream(context.Background(), req)); err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		r := srv.Requests()[0]
		if r.ModelID != model {
			t.Errorf("model id = %q, want %q", r.ModelID, model)
		}
		escaped := strings.NewReplacer(":", "%3A", "/", "%2F").Replace(model)
		if want := "/model/" + escaped + "/converse-stream"; r.Path != want {
			t.Errorf("path = %q, want %q", r.Path, want)
		}
	}
}

func TestThrottlingRetriedThenSucceeds(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{ThrottleFirst: 2})
	m := newModel(t, srv, bedrock.Options{MaxAttempts: 4})
	texts, final, err := collect(t, m.Stream(context.Background(), userText("hi")))
	if err != nil {
		t.Fatalf("stream failed after throttling: %v", err)
	}
	if len(texts) == 0 || !final.Done {
		t.Errorf("texts %q final %+v", texts, final)
	}
	if st := srv.Stats(); st.Requests != 3 || st.Throttled != 2 || st.Completed != 1 {
		t.Errorf("stats = %+v, want 3 requests, 2 throttled, 1 completed", st)
	}
}

func TestThrottlingPersistent(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{ThrottleFirst: math.MaxInt})
	m := newModel(t, srv, bedrock.Options{MaxAttempts: 3})

	check := func(what string, err error) {
		t.Helper()
		var ge *genai.Error
		if !errors.As(err, &ge) || ge.Code != genai.ETHROTTLED {
			t.Fatalf("%s: err = %v, want ETHROTTLED", what, err)
		}
		if ge.RetryAfter <= 0 {
			t.Errorf("%s: RetryAfter = %v, want > 0", what, ge.RetryAfter)
		}
		if !strings.Contains(ge.Message, "ThrottlingException") {
			t.Errorf("%s: message %q does not name the upstream error", what, ge.Message)
		}
	}
	texts, _, err := collect(t, m.Stream(context.Background(), userText("hi")))
	check("Stream", err)
	if len(texts) != 0 {
		t.Errorf("texts %q before a throttling error", texts)
	}
	if st := srv.Stats(); st.Requests != 3 {
		t.Errorf("server got %d attempts, want MaxAttempts = 3", st.Requests)
	}
	_, err = m.Chat(context.Background(), userText("hi"))
	check("Chat", err)
}

func TestErrorsBeforeStream(t *testing.T) {
	for _, tc := range []struct {
		apiErr   bedrocktest.APIError
		code     string
		contains string
	}{
		{bedrocktest.APIError{Status: 400, Type: "ValidationException", Message: "The model returned the following errors: max_tokens: too big"}, genai.EINVALID, "max_tokens: too big"},
		{bedrocktest.APIError{Status: 403, Type: "AccessDeniedException", Message: "You don't have access to the model"}, genai.EUPSTREAM, "AccessDeniedException"},
		{bedrocktest.APIError{Status: 404, Type: "ResourceNotFoundException", Message: "Model not found"}, genai.EUPSTREAM, "ResourceNotFoundException"},
		{bedrocktest.APIError{Status: 424, Type: "ModelErrorException", Message: "boom"}, genai.EUPSTREAM, "ModelErrorException"},
	} {
		srv := newServer(t, bedrocktest.Options{Reply: func(*bedrocktest.Request) bedrocktest.Reply {
			return bedrocktest.Reply{Error: &tc.apiErr}
		}})
		m := newModel(t, srv, bedrock.Options{})
		_, _, err := collect(t, m.Stream(context.Background(), userText("hi")))
		if genai.ErrorCode(err) != tc.code || !strings.Contains(genai.ErrorMessage(err), tc.contains) {
			t.Errorf("%s: Stream err = %v, want %s containing %q", tc.apiErr.Type, err, tc.code, tc.contains)
		}
		_, err = m.Chat(context.Background(), userText("hi"))
		if genai.ErrorCode(err) != tc.code || !strings.Contains(genai.ErrorMessage(err), tc.contains) {
			t.Errorf("%s: Chat err = %v, want %s containing %q", tc.apiErr.Type, err, tc.code, tc.contains)
		}
	}
}

// Claude on Bedrock's own rules, which the domain leaves to the provider, are checked
// here before any call, each error naming the field.
func TestInvalidRequestNeverSent(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{})
	hot := 1.5
	user := genai.TextMessage(genai.RoleUser, "hi")
	for _, tc := range []struct {
		name string
		req  *genai.ChatRequest
		want string
	}{
		{"starts with assistant", &genai.ChatRequest{Messages: []genai.Message{genai.TextMessage(genai.RoleAssistant, "hi")}}, "messages[0].role"},
		{"two users", &genai.ChatRequest{Messages: []genai.Message{user, user}}, "messages[1].role"},
		{"blank text", &genai.ChatRequest{Messages: []genai.Message{genai.TextMessage(genai.RoleUser, "  ")}}, "messages[0].content[0].text"},
		{"temperature over 1", &genai.ChatRequest{Messages: []genai.Message{user}, Temperature: &hot}, "temperature"},
		{"model with @", &genai.ChatRequest{Model: "gpt-4o@2024", Messages: []genai.Message{user}}, "model"},
	} {
		_, _, err := collect(t, m.Stream(context.Background(), tc.req))
		if genai.ErrorCode(err) != genai.EINVALID || !strings.Contains(genai.ErrorMessage(err), tc.want) {
			t.Errorf("%s: err = %v, want EINVALID naming %s", tc.name, err, tc.want)
		}
		if _, err := m.Chat(context.Background(), tc.req); genai.ErrorCode(err) != genai.EINVALID {
			t.Errorf("%s: Chat err = %v, want EINVALID", tc.name, err)
		}
	}
	if st := srv.Stats(); st.Requests != 0 {
		t.Errorf("server got %d requests for invalid requests", st.Requests)
	}
}

func TestMidStreamException(t *testing.T) {
	for _, tc := range []struct {
		exception string
		code      string
	}{
		{"modelStreamErrorException", genai.EUPSTREAM},
		{"internalServerException", genai.EUPSTREAM},
		{"serviceUnavailableException", genai.EUPSTREAM},
		{"throttlingException", genai.ETHROTTLED},
	} {
		srv := newServer(t, bedrocktest.Options{
			Reply: func(*bedrocktest.Request) bedrocktest.Reply {
				return bedrocktest.Reply{Tokens: []string{"one ", "two ", "three ", "four"}}
			},
			FailStream: &bedrocktest.StreamFailure{AfterTokens: 2, Exception: tc.exception, Message: "the model fell over"},
		})
		m := newModel(t, srv, bedrock.Options{})
		texts, final, err := collect(t, m.Stream(context.Background(), userText("hi")))
		if strings.Join(texts, "") != "one two " {
			t.Errorf("%s: texts before the error = %q, want %q", tc.exception, texts, "one two ")
		}
		if final.Done {
			t.Errorf("%s: got a Done event %+v", tc.exception, final)
		}
		if genai.ErrorCode(err) != tc.code || !strings.Contains(genai.ErrorMessage(err), "the model fell over") {
			t.Errorf("%s: err = %v, want %s with the upstream message", tc.exception, err, tc.code)
		}
		if st := srv.Stats(); st.Requests != 1 {
			t.Errorf("%s: %d requests: a stream that yielded text must not be retried", tc.exception, st.Requests)
		}
	}
}

func TestConnectionCutMidStream(t *testing.T) {
	for _, after := range []int{0, 2, 4} {
		srv := newServer(t, bedrocktest.Options{
			Reply: func(*bedrocktest.Request) bedrocktest.Reply {
				return bedrocktest.Reply{Tokens: []string{"one ", "two ", "three ", "four"}}
			},
			FailStream: &bedrocktest.StreamFailure{AfterTokens: after},
		})
		m := newModel(t, srv, bedrock.Options{})
		texts, final, err := collect(t, m.Stream(context.Background(), userText("hi")))
		if want := strings.Join([]string{"one ", "two ", "three ", "four"}[:after], ""); strings.Join(texts, "") != want {
			t.Errorf("cut after %d: got texts %q, want %q", after, texts, want)
		}
		if genai.ErrorCode(err) != genai.EUPSTREAM || final.Done {
			t.Errorf("cut after %d: err = %v, final %+v; want EUPSTREAM and no Done", after, err, final)
		}
	}
}

// TestStreamsOnFreshConnections starts streams each on a new client, so a new
// connection: the case where, without requestBodyGuard, net/http closed about one
// connection in thirty under the stream.
func TestStreamsOnFreshConnections(t *testing.T) {
	srv := slowServer(t, 0)
	for i := range 150 {
		m := newModel(t, srv, bedrock.Options{})
		n := 0
		for ev, err := range m.Stream(context.Background(), userText("hi")) {
			if err != nil {
				t.Fatalf("stream %d: %v", i, err)
			}
			if ev.Text != "" {
				n++
			}
			if n == 2 {
				break
			}
		}
	}
}

// TestManyStreams runs streams side by side on one client and checks every one arrives
// whole; under -race it also guards ownProtocol.
func TestManyStreams(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{NoRecord: true})
	m := newModel(t, srv, bedrock.Options{})
	const streams, workers = 300, 20
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < streams; i += workers {
				text := fmt.Sprintf("stream number %d", i)
				var sb strings.Builder
				for ev, err := range m.Stream(context.Background(), userText(text)) {
					if err != nil {
						errs <- fmt.Errorf("stream %d: %w", i, err)
						return
					}
					sb.WriteString(ev.Text)
				}
				if sb.String() != "You said: "+text {
					errs <- fmt.Errorf("stream %d: got %q", i, sb.String())
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := srv.Stats(); st.Completed != streams || st.Active != 0 {
		t.Errorf("stats = %+v, want %d completed", st, streams)
	}
}

// slowServer streams many tokens slowly, so that a stream is still running when the
// test cancels it.
func slowServer(t *testing.T, firstTokenDelay time.Duration) *bedrocktest.Server {
	return newServer(t, bedrocktest.Options{
		Reply: func(*bedrocktest.Request) bedrocktest.Reply {
			return bedrocktest.Reply{Tokens: strings.SplitAfter(strings.Repeat("token ", 10_000), " ")}
		},
		FirstTokenDelay: firstTokenDelay,
		TokenDelay:      5 * time.Millisecond,
	})
}

func TestConsumerStopsEarlyCancelsUpstream(t *testing.T) {
	srv := slowServer(t, 0)
	m := newModel(t, srv, bedrock.Options{})
	n := 0
	for ev, err := range m.Stream(context.Background(), userText("hi")) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Text != "" {
			n++
		}
		if n == 2 {
			break
		}
	}
	waitStats(t, srv, "the stream cancelled", func(st bedrocktest.Stats) bool { return st.Canceled == 1 && st.Active == 0 })
}

func TestContextCancelEndsStream(t *testing.T) {
	srv := slowServer(t, 0)
	m := newModel(t, srv, bedrock.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var err error
	n := 0
	for ev, e := range m.Stream(ctx, userText("hi")) {
		if e != nil {
			err = e
			break
		}
		if ev.Done {
			t.Fatal("stream finished despite the cancel")
		}
		if n++; n == 3 {
			cancel()
		}
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("after %d events: err = %v, want one wrapping context.Canceled", n, err)
	}
	waitStats(t, srv, "the stream cancelled", func(st bedrocktest.Stats) bool { return st.Canceled == 1 && st.Active == 0 })
}

func TestContextCancelBeforeFirstToken(t *testing.T) {
	srv := slowServer(t, time.Hour)
	m := newModel(t, srv, bedrock.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, err := collect(t, m.Stream(ctx, userText("hi")))
		errc <- err
	}()
	waitStats(t, srv, "the stream start", func(st bedrocktest.Stats) bool { return st.Active == 1 })
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want one wrapping context.Canceled", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Stream did not return after its context was cancelled")
	}
	waitStats(t, srv, "the stream cancelled", func(st bedrocktest.Stats) bool { return st.Canceled == 1 && st.Active == 0 })
}

func TestChat(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{})
	req := userText("hello world")
	req.System = "Be brief."
	resp, err := m.Chat(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	want := genai.ChatResponse{Model: bedrock.DefaultModel, Text: "You said: hello world", StopReason: "end_turn",
		Usage:   genai.Usage{InputTokens: 4, OutputTokens: 4},
		Content: []genai.ContentBlock{{Type: genai.BlockText, Text: "You said: hello world"}}}
	if !reflect.DeepEqual(*resp, want) {
		t.Errorf("response = %+v, want %+v", *resp, want)
	}
	r := srv.Requests()[0]
	if r.Operation != "Converse" || len(r.System) != 1 || r.System[0].Text != "Be brief." {
		t.Errorf("request = %+v", r)
	}
}

func TestChatContextCancel(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{FirstTokenDelay: time.Hour})
	m := newModel(t, srv, bedrock.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_ = srv.Wait(ctx, func(st bedrocktest.Stats) bool { return st.Active == 1 })
		cancel()
	}()
	_, err := m.Chat(ctx, userText("hi"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want one wrapping context.Canceled", err)
	}
	waitStats(t, srv, "the call cancelled", func(st bedrocktest.Stats) bool { return st.Canceled == 1 && st.Active == 0 })
}

// isolateAWSEnv clears the variables and files the SDK would otherwise read from this
// machine.
func isolateAWSEnv(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_EC2_METADATA_DISABLED":              "true",
		"AWS_CONFIG_FILE":                        dir + "/config",
		"AWS_SHARED_CREDENTIALS_FILE":            dir + "/credentials",
		"AWS_PROFILE":                            "",
		"AWS_ACCESS_KEY_ID":                      "",
		"AWS_SECRET_ACCESS_KEY":                  "",
		"AWS_SESSION_TOKEN":                      "",
		"AWS_REGION":                             "",
		"AWS_DEFAULT_REGION":                     "",
		"AWS_ENDPOINT_URL":                       "",
		"AWS_ENDPOINT_URL_BEDROCK_RUNTIME":       "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "",
		"AWS_WEB_IDENTITY_TOKEN_FILE":            "",
		"AWS_ROLE_ARN":                           "",
		"AWS_BEARER_TOKEN_BEDROCK":               "",
	} {
		t.Setenv(k, v)
	}
}

func TestEndpointFromEnvironment(t *testing.T) {
	for _, env := range []string{"AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL"} {
		t.Run(env, func(t *testing.T) {
			isolateAWSEnv(t)
			srv := newServer(t, bedrocktest.Options{})
			t.Setenv(env, srv.URL)
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret")

			cfg, err := bedrock.LoadConfig(context.Background(), "us-east-1")
			if err != nil {
				t.Fatal(err)
			}
			m := bedrock.New(cfg, bedrock.Options{})
			resp, err := m.Chat(context.Background(), userText("via env"))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Text != "You said: via env" {
				t.Errorf("text = %q", resp.Text)
			}
			if _, _, err := collect(t, m.Stream(context.Background(), userText("via env"))); err != nil {
				t.Fatal(err)
			}
			reqs := srv.Requests()
			if len(reqs) != 2 || !strings.Contains(reqs[0].Authorization, "Credential=AKIDENV/") || !strings.Contains(reqs[0].Authorization, "/us-east-1/bedrock/aws4_request") {
				t.Errorf("requests = %d, Authorization = %q", len(reqs), reqs[0].Authorization)
			}
		})
	}
}

func TestCredentialsAvailable(t *testing.T) {
	isolateAWSEnv(t)
	ctx := context.Background()
	cfg := aws.Config{Region: "us-east-1"}
	if bedrock.CredentialsAvailable(ctx, cfg) {
		t.Error("CredentialsAvailable = true with no credentials anywhere")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
	if !bedrock.CredentialsAvailable(ctx, cfg) {
		t.Error("CredentialsAvailable = false with credentials in the environment")
	}
}

func TestCredentialsAvailableIgnoresIMDSSetting(t *testing.T) {
	// Even with the metadata service enabled by the environment, the probe must not
	// use it: it would contact 169.254.169.254.
	isolateAWSEnv(t)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "false")
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1") // fail fast if it is used anyway
	if bedrock.CredentialsAvailable(context.Background(), aws.Config{Region: "us-east-1"}) {
		t.Error("CredentialsAvailable = true with no credentials")
	}
}

// BenchmarkStreamConcurrent streams answers of 50 tokens, 1000 at a time, through the
// SDK and bedrocktest.
func BenchmarkStreamConcurrent(b *testing.B) {
	const concurrency = 1000
	srv := newServer(b, bedrocktest.Options{
		NoRecord: true,
		Reply: func(*bedrocktest.Request) bedrocktest.Reply {
			return bedrocktest.Reply{Tokens: strings.SplitAfter(strings.Repeat("word ", 50), " ")}
		},
		TokenDelay: time.Millisecond,
	})
	m := newModel(b, srv, bedrock.Options{})
	b.ResetTimer()
	for b.Loop() {
		var wg sync.WaitGroup
		errs := make(chan error, concurrency)
		for range concurrency {
			wg.Go(func() {
				for _, err := range m.Stream(context.Background(), userText("hi")) {
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(concurrency*b.N)/b.Elapsed().Seconds(), "streams/s")
}
