package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"genai/bedrock/bedrocktest"
)

// The Responses API through the official openai-go client, unchanged but for its base
// URL, against the server on the Bedrock test server.

const (
	respKeyA = "sk-genai-responses-a-0123456789"
	respKeyB = "sk-genai-responses-b-0123456789"
)

func responsesServer(t *testing.T, opts bedrocktest.Options) (*bedrocktest.Server, oai.Client, oai.Client, string) {
	t.Helper()
	up := bedrockUpstream(t, opts)
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock", "GENAI_API_KEYS": respKeyA + "," + respKeyB})
	client := func(key string) oai.Client {
		return oai.NewClient(option.WithBaseURL(base+"/v1"), option.WithAPIKey(key), option.WithMaxRetries(0))
	}
	return up, client(respKeyA), client(respKeyB), base
}

// checkStream reads a streamed response with openai-go, checks each event against the
// SDK's own strict ResponseAccumulator, which refuses events out of the documented
// protocol, and returns the event types and the response it reconstructs.
func checkStream(t *testing.T, stream interface {
	Next() bool
	Current() responses.ResponseStreamEventUnion
	Err() error
}) ([]string, *responses.Response) {
	t.Helper()
	var acc responses.ResponseAccumulator
	var types []string
	for i := 0; stream.Next(); i++ {
		ev := stream.Current()
		types = append(types, ev.Type)
		if ev.SequenceNumber != int64(i) {
			t.Errorf("event %d (%s) has sequence_number %d", i, ev.Type, ev.SequenceNumber)
		}
		var sev responses.ResponsesServerEventUnion
		if err := json.Unmarshal([]byte(ev.RawJSON()), &sev); err != nil {
			t.Fatalf("event %s: %v", ev.RawJSON(), err)
		}
		if err := acc.AddEvent(sev); err != nil {
			t.Errorf("the SDK's accumulator refuses %s: %v", ev.RawJSON(), err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	r, err := acc.ReconstructedResponse()
	if err != nil {
		t.Fatalf("reconstructed response: %v (events %v)", err, types)
	}
	return types, r
}

func statusOf(err error) int {
	var apiErr *oai.Error
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode
	}
	return 0
}

// A response is created, read again, continued by previous_response_id with the whole
// conversation reaching the model, hidden from another key, and deleted.
func TestResponsesCreateContinueGetDelete(t *testing.T) {
	up, client, other, _ := responsesServer(t, bedrocktest.Options{})
	ctx := context.Background()
	first, err := client.Responses.New(ctx, responses.ResponseNewParams{
		Model:        DefaultBedrockModel,
		Instructions: oai.String("be brief"),
		Input:        responses.ResponseNewParamsInputUnion{OfString: oai.String("hello there")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if first.OutputText() != "You said: hello there" || first.Status != "completed" || first.Usage.OutputTokens == 0 ||
		first.Usage.TotalTokens != first.Usage.InputTokens+first.Usage.OutputTokens || !strings.HasPrefix(first.ID, "resp_") {
		t.Fatalf("response %s", first.RawJSON())
	}
	if m := first.Output[0]; m.Type != "message" || m.Role != "assistant" || m.Content[0].Type != "output_text" {
		t.Errorf("output item %s", m.RawJSON())
	}
	got, err := client.Responses.Get(ctx, first.ID, responses.ResponseGetParams{})
	if err != nil || got.ID != first.ID || got.OutputText() != first.OutputText() {
		t.Fatalf("get: %v %+v", err, got)
	}
	if _, err := other.Responses.Get(ctx, first.ID, responses.ResponseGetParams{}); statusOf(err) != http.StatusNotFound {
		t.Errorf("another key's get: %v, want 404", err)
	}
	if _, err := other.Responses.New(ctx, responses.ResponseNewParams{Model: DefaultBedrockModel, PreviousResponseID: oai.String(first.ID),
		Input: responses.ResponseNewParamsInputUnion{OfString: oai.String("and?")}}); statusOf(err) != http.StatusNotFound {
		t.Errorf("another key continuing: %v, want 404", err)
	}

	second, err := client.Responses.New(ctx, responses.ResponseNewParams{
		Model:              DefaultBedrockModel,
		PreviousResponseID: oai.String(first.ID),
		Input:              responses.ResponseNewParamsInputUnion{OfString: oai.String("say more")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if second.OutputText() != "You said: say more" || second.PreviousResponseID != first.ID {
		t.Errorf("second %s", second.RawJSON())
	}
	reqs := up.Requests()
	last := reqs[len(reqs)-1]
	if len(last.Messages) != 3 || last.Messages[0].Content[0].Text != "hello there" ||
		last.Messages[1].Content[0].Text != "You said: hello there" || last.Messages[2].Content[0].Text != "say more" {
		t.Errorf("the continuation's conversation upstream: %+v", last.Messages)
	}
	if len(last.System) != 0 {
		t.Errorf("the first response's instructions were carried over: %+v", last.System)
	}

	if err := other.Responses.Delete(ctx, first.ID); statusOf(err) != http.StatusNotFound {
		t.Errorf("another key's delete: %v, want 404", err)
	}
	if err := client.Responses.Delete(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Responses.Get(ctx, first.ID, responses.ResponseGetParams{}); statusOf(err) != http.StatusNotFound {
		t.Errorf("get after delete: %v, want 404", err)
	}
	// The continuation holds the whole conversation: deleting the first leaves it whole.
	third, err := client.Responses.New(ctx, responses.ResponseNewParams{Model: DefaultBedrockModel, PreviousResponseID: oai.String(second.ID),
		Input: responses.ResponseNewParamsInputUnion{OfString: oai.String("last")}})
	if err != nil || third.OutputText() != "You said: last" {
		t.Fatalf("third: %v", err)
	}
	if reqs := up.Requests(); len(reqs[len(reqs)-1].Messages) != 5 {
		t.Errorf("third conversation: %d messages", len(reqs[len(reqs)-1].Messages))
	}
}

// store: false keeps nothing: neither a read nor a continuation finds it.
func TestResponsesStoreFalse(t *testing.T) {
	_, client, _, _ := responsesServer(t, bedrocktest.Options{})
	ctx := context.Background()
	r, err := client.Responses.New(ctx, responses.ResponseNewParams{Model: DefaultBedrockModel, Store: oai.Bool(false),
		Input: responses.ResponseNewParamsInputUnion{OfString: oai.String("hello there")}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.RawJSON(), `"store":false`) {
		t.Fatalf("store: %s", r.RawJSON())
	}
	if _, err := client.Responses.Get(ctx, r.ID, responses.ResponseGetParams{}); statusOf(err) != http.StatusNotFound {
		t.Errorf("get: %v, want 404", err)
	}
	_, err = client.Responses.New(ctx, responses.ResponseNewParams{Model: DefaultBedrockModel, PreviousResponseID: oai.String(r.ID),
		Input: responses.ResponseNewParamsInputUnion{OfString: oai.String("and?")}})
	var apiErr *oai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Param != "previous_response_id" {
		t.Errorf("continuing: %v, want 404 naming previous_response_id", err)
	}
}

// A streamed response has the documented event sequence, numbered from 0, and ends
// with the whole response, which is stored.
func TestResponsesStream(t *testing.T) {
	_, client, _, _ := responsesServer(t, bedrocktest.Options{})
	ctx := context.Background()
	stream := client.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: DefaultBedrockModel,
		Input: responses.ResponseNewParamsInputUnion{OfString: oai.String("hello there")}})
	var types []string
	var text string
	var final responses.Response
	for i := 0; stream.Next(); i++ {
		ev := stream.Current()
		if ev.SequenceNumber != int64(i) {
			t.Errorf("event %d (%s) has sequence_number %d", i, ev.Type, ev.SequenceNumber)
		}
		if len(types) == 0 || types[len(types)-1] != ev.Type {
			types = append(types, ev.Type)
		}
		switch ev.Type {
		case "response.output_text.delta":
			text += ev.Delta
		case "response.completed":
			final = ev.Response
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	want := "response.created response.in_progress response.output_item.added response.content_part.added " +
		"response.output_text.delta response.output_text.done response.content_part.done response.output_item.done response.completed"
	if got := strings.Join(types, " "); got != want {
		t.Errorf("events\n %s\nwant\n %s", got, want)
	}
	if text != "You said: hello there" || final.OutputText() != text || final.Status != "completed" {
		t.Errorf("text %q, final %s", text, final.RawJSON())
	}
	got, err := client.Responses.Get(ctx, final.ID, responses.ResponseGetParams{})
	if err != nil || got.OutputText() != text {
		t.Errorf("get the streamed response: %v", err)
	}
}

var weatherTool = responses.ToolParamOfFunction("get_weather", map[string]any{
	"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"},
}, true)

// A function tool round trip, whole and streamed: the model calls the client's tool,
// the client sends its output with previous_response_id, and the model's answer quotes it.
func TestResponsesFunctionToolRoundTrip(t *testing.T) {
	up, client, _, _ := responsesServer(t, bedrocktest.Options{})
	ctx := context.Background()
	params := responses.ResponseNewParams{Model: DefaultBedrockModel, Tools: []responses.ToolUnionParam{weatherTool},
		Input: responses.ResponseNewParamsInputUnion{OfString: oai.String("Paris")}}
	r, err := client.Responses.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Output) != 2 || r.Output[0].Type != "message" || r.Output[1].Type != "function_call" {
		t.Fatalf("output %s", r.RawJSON())
	}
	call := r.Output[1].AsFunctionCall()
	if call.Name != "get_weather" || call.Arguments != `{"city":"Paris"}` || call.CallID == "" || call.Status != "completed" {
		t.Fatalf("call %s", call.RawJSON())
	}
	if tools := up.Requests()[0].ToolConfig; tools == nil || tools.Tools[0].ToolSpec.Name != "get_weather" {
		t.Fatalf("tools upstream: %+v", tools)
	}

	// The result, streamed: the answer quotes it.
	output := responses.ResponseInputItemParamOfFunctionCallOutput("18 C and sunny")
	output.OfFunctionCallOutput.CallID = oai.String(call.CallID)
	stream := client.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: DefaultBedrockModel,
		Tools: []responses.ToolUnionParam{weatherTool}, PreviousResponseID: oai.String(r.ID),
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
			output,
		}}})
	var answer responses.Response
	for stream.Next() {
		if ev := stream.Current(); ev.Type == "response.completed" {
			answer = ev.Response
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if want := "Tool " + call.CallID + " returned 18 C and sunny."; answer.OutputText() != want {
		t.Errorf("answer %q, want %q", answer.OutputText(), want)
	}

	// The call itself, streamed: its arguments arrive as deltas, then whole.
	stream = client.Responses.NewStreaming(ctx, params)
	var types []string
	var args, done string
	for stream.Next() {
		ev := stream.Current()
		types = append(types, ev.Type)
		switch ev.Type {
		case "response.function_call_arguments.delta":
			args += ev.Delta
		case "response.function_call_arguments.done":
			done = ev.Arguments
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if args != `{"city":"Paris"}` || done != args {
		t.Errorf("arguments streamed %q, done %q; events %v", args, done, types)
	}
}

// The server's own tools run inside the response: each call shows as an mcp_call item
// with its group, arguments and output, streamed with the mcp_call events, and a
// continuation sees the answer they led to.
func TestResponsesServerTools(t *testing.T) {
	base := agentServer(t, map[string]string{})
	client := oai.NewClient(option.WithBaseURL(base+"/v1"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	ctx := context.Background()
	params := responses.ResponseNewParams{Model: DefaultBedrockModel, Input: responses.ResponseNewParamsInputUnion{OfString: oai.String("highest tides")}}
	kb := option.WithJSONSet("server_tools", []string{"knowledge_base"})
	r, err := client.Responses.New(ctx, params, kb)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, item := range r.Output {
		kinds = append(kinds, item.Type)
	}
	if got := strings.Join(kinds, " "); got != "message mcp_call message" {
		t.Fatalf("output %s: %s", got, r.RawJSON())
	}
	call := r.Output[1].AsMcpCall()
	if call.ServerLabel != "knowledge_base" || call.Name != "search_knowledge_base" || call.Arguments != `{"query":"highest tides"}` ||
		call.Status != "completed" || !strings.Contains(call.Output, "Spring tides") {
		t.Errorf("mcp_call %s", call.RawJSON())
	}
	if text := r.OutputText(); !strings.Contains(text, "returned [1] Tides") {
		t.Errorf("answer %q does not quote the tool's result", text)
	}

	stream := client.Responses.NewStreaming(ctx, params, kb)
	var types []string
	for stream.Next() {
		if ev := stream.Current(); len(types) == 0 || types[len(types)-1] != ev.Type {
			types = append(types, ev.Type)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(types, " ")
	if !strings.Contains(got, "response.output_item.added response.mcp_call_arguments.delta response.mcp_call_arguments.done "+
		"response.mcp_call.in_progress response.mcp_call.completed response.output_item.done") || !strings.HasSuffix(got, "response.completed") {
		t.Errorf("events %s", got)
	}

	// A tool's failure: the item is "failed" with the tool's error, which the model saw.
	long := strings.Repeat("tide ", 1000) // a query over the tool's 4096-byte limit
	failed, err := client.Responses.New(ctx, responses.ResponseNewParams{Model: DefaultBedrockModel,
		Input: responses.ResponseNewParamsInputUnion{OfString: oai.String(long)}}, kb)
	if err != nil {
		t.Fatal(err)
	}
	if call := failed.Output[1].AsMcpCall(); call.Status != "failed" || !strings.Contains(call.RawJSON(), `"error":"`) || call.Output != "" {
		t.Errorf("failed mcp_call %s", call.RawJSON())
	}
	if !strings.Contains(failed.OutputText(), "failed:") {
		t.Errorf("answer %q does not quote the tool's error", failed.OutputText())
	}

	next, err := client.Responses.New(ctx, responses.ResponseNewParams{Model: DefaultBedrockModel, PreviousResponseID: oai.String(r.ID),
		Input: responses.ResponseNewParamsInputUnion{OfString: oai.String("thanks")}})
	if err != nil || next.OutputText() != "You said: thanks" {
		t.Fatalf("continuation: %v", err)
	}
}

// An answer cut by the output limit is "incomplete", with the reason, whole and streamed.
func TestResponsesIncomplete(t *testing.T) {
	_, client, _, _ := responsesServer(t, bedrocktest.Options{Reply: func(*bedrocktest.Request) bedrocktest.Reply {
		return bedrocktest.Reply{Tokens: []string{"a ", "long"}, StopReason: "max_tokens"}
	}})
	ctx := context.Background()
	params := responses.ResponseNewParams{Model: DefaultBedrockModel, MaxOutputTokens: oai.Int(16),
		Input: responses.ResponseNewParamsInputUnion{OfString: oai.String("tell me everything")}}
	r, err := client.Responses.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != "incomplete" || r.IncompleteDetails.Reason != "max_output_tokens" || r.MaxOutputTokens != 16 || r.OutputText() != "a long" {
		t.Errorf("response %s", r.RawJSON())
	}
	stream := client.Responses.NewStreaming(ctx, params)
	var last string
	for stream.Next() {
		last = stream.Current().Type
	}
	if stream.Err() != nil || last != "response.incomplete" {
		t.Errorf("last event %s, %v", last, stream.Err())
	}
}

// A stream that fails after it started ends with an error event and response.failed.
func TestResponsesStreamFailure(t *testing.T) {
	_, client, _, _ := responsesServer(t, bedrocktest.Options{FailStream: &bedrocktest.StreamFailure{AfterTokens: 1, Exception: "modelStreamErrorException", Message: "boom"}})
	stream := client.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{Model: DefaultBedrockModel,
		Input: responses.ResponseNewParamsInputUnion{OfString: oai.String("hello there")}})
	var types []string
	var failed responses.Response
	for stream.Next() {
		ev := stream.Current()
		types = append(types, ev.Type)
		if ev.Type == "response.failed" {
			failed = ev.Response
		}
	}
	got := strings.Join(types, " ")
	if !strings.HasSuffix(got, "error response.failed") || failed.Status != "failed" || failed.Error.Code == "" || failed.Error.Message == "" {
		t.Errorf("events %s (%v); failed %s", got, stream.Err(), failed.RawJSON())
	}
}

// Errors have OpenAI's shape and name the field: one this server does not implement, a
// remote image (never fetched).
func TestResponsesErrors(t *testing.T) {
	_, client, _, _ := responsesServer(t, bedrocktest.Options{})
	ctx := context.Background()
	_, err := client.Responses.New(ctx, responses.ResponseNewParams{Model: DefaultBedrockModel, Background: oai.Bool(true),
		Input: responses.ResponseNewParamsInputUnion{OfString: oai.String("hi")}})
	var apiErr *oai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Type != "invalid_request_error" || apiErr.Param != "background" {
		t.Errorf("background: %v", err)
	}
	_, err = client.Responses.New(ctx, responses.ResponseNewParams{Model: DefaultBedrockModel,
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
			responses.ResponseInputItemParamOfMessage(responses.ResponseInputMessageContentListParam{
				responses.ResponseInputContentParamOfInputText("what is this?"),
				{OfInputImage: &responses.ResponseInputImageParam{ImageURL: oai.String("https://example.com/cat.png"), Detail: "auto"}},
			}, "user"),
		}}})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "input[0].content[1].image_url" || !strings.Contains(apiErr.Message, "data URL") {
		t.Errorf("remote image: %v", err)
	}
}

// Every stream this server writes — text, a function call, server tools — is what the
// SDK's strict accumulator takes, and reconstructs the response the stream ends with.
func TestResponsesStreamsFollowTheProtocol(t *testing.T) {
	base := agentServer(t, map[string]string{})
	client := oai.NewClient(option.WithBaseURL(base+"/v1"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	ctx := context.Background()
	text := responses.ResponseNewParamsInputUnion{OfString: oai.String("highest tides")}
	for name, c := range map[string]struct {
		params responses.ResponseNewParams
		opts   []option.RequestOption
		items  string
	}{
		"text":          {responses.ResponseNewParams{Model: DefaultBedrockModel, Input: text}, nil, "message"},
		"function call": {responses.ResponseNewParams{Model: DefaultBedrockModel, Input: text, Tools: []responses.ToolUnionParam{weatherTool}}, nil, "message function_call"},
		"server tools":  {responses.ResponseNewParams{Model: DefaultBedrockModel, Input: text}, []option.RequestOption{option.WithJSONSet("server_tools", []string{"knowledge_base"})}, "message mcp_call message"},
	} {
		t.Run(name, func(t *testing.T) {
			_, r := checkStream(t, client.Responses.NewStreaming(ctx, c.params, c.opts...))
			var kinds []string
			for _, item := range r.Output {
				kinds = append(kinds, item.Type)
			}
			if got := strings.Join(kinds, " "); got != c.items || r.Status != "completed" {
				t.Errorf("reconstructed %s, %s: %s", got, r.Status, r.RawJSON())
			}
		})
	}
}
