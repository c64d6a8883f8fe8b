package genai_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"genai"
)

var pngBytes = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde")

func imageBlock(mediaType string, data []byte) string {
	return `{"type":"image","source":{"type":"base64","media_type":"` + mediaType + `","data":"` + base64.StdEncoding.EncodeToString(data) + `"}}`
}

func TestParseChatRequestAccepts(t *testing.T) {
	body := `{"model":"us.anthropic.claude-3-5-sonnet-20240620-v1:0","system":"be brief",
	  "messages":[{"role":"user","content":"hi"},
	    {"role":"assistant","content":[{"type":"text","text":"hello"}]},
	    {"role":"user","content":[{"type":"text","text":"what is this?"},` + imageBlock("image/png", pngBytes) + `]}],
	  "max_tokens":100,"temperature":0.5,"top_p":0.9,"stop_sequences":["END"],"stream":false}`
	req, stream, err := genai.ParseChatRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if stream {
		t.Error("stream: got true, want false")
	}
	if req.Model != "us.anthropic.claude-3-5-sonnet-20240620-v1:0" || req.System != "be brief" || req.MaxTokens != 100 ||
		*req.Temperature != 0.5 || *req.TopP != 0.9 || req.StopSequences[0] != "END" {
		t.Errorf("settings not decoded: %+v", req)
	}
	if len(req.Messages) != 3 || req.Messages[0].Text() != "hi" || req.Messages[1].Role != genai.RoleAssistant {
		t.Fatalf("messages not decoded: %+v", req.Messages)
	}
	im := req.Messages[2].Content[1].Image
	if im == nil || im.Format != "png" || !bytes.Equal(im.Data, pngBytes) {
		t.Errorf("image not decoded byte-exact: %+v", im)
	}
	_, stream, err = genai.ParseChatRequest([]byte(`{"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil || !stream {
		t.Errorf("stream should default to true: %v %v", stream, err)
	}
}

func TestParseChatRequestRejects(t *testing.T) {
	gif := []byte("GIF89a\x01\x00\x01\x00")
	many := strings.Repeat(imageBlock("image/png", pngBytes)+",", genai.MaxImages+1)
	big := append(append([]byte{}, pngBytes...), make([]byte, genai.MaxImageBytes)...)
	for _, tc := range []struct {
		name, body, code, msg string
	}{
		{"malformed", `{"messages":[`, genai.EINVALID, "body: malformed JSON"},
		{"empty body", ``, genai.EINVALID, "body: empty"},
		{"not an object", `[1,2]`, genai.EINVALID, "body: expected an object"},
		{"trailing value", `{"messages":[{"role":"user","content":"a"}]} {}`, genai.EINVALID, "more than one JSON value"},
		{"no messages", `{}`, genai.EINVALID, "messages: required"},
		{"zero messages", `{"messages":[]}`, genai.EINVALID, "messages: must hold at least one"},
		{"wrong type", `{"messages":"hi"}`, genai.EINVALID, "messages: expected an array"},
		{"missing role", `{"messages":[{"content":"hi"}]}`, genai.EINVALID, "messages[0].role: required"},
		{"bad role", `{"messages":[{"role":"system","content":"hi"}]}`, genai.EINVALID, `messages[0].role: must be "user" or "assistant"`},
		{"unknown role", `{"messages":[{"role":"tool","content":"hi"}]}`, genai.EINVALID, "messages[0].role: must be"},
		{"empty content", `{"messages":[{"role":"user","content":[]}]}`, genai.EINVALID, "messages[0].content: must not be empty"},
		{"missing content", `{"messages":[{"role":"user"}]}`, genai.EINVALID, "messages[0].content: required"},
		{"unknown block", `{"messages":[{"role":"user","content":[{"type":"video"}]}]}`, genai.EINVALID, `messages[0].content[0].type: "video"`},
		{"bad base64", `{"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"!!!"}}]}]}`, genai.EINVALID, "messages[0].content[0].source.data: not valid base64"},
		{"not an image", `{"messages":[{"role":"user","content":[` + imageBlock("image/png", []byte("hello world")) + `]}]}`, genai.EMEDIATYPE, "bytes are not a png, jpeg, gif or webp"},
		{"declared type lies", `{"messages":[{"role":"user","content":[` + imageBlock("image/png", gif) + `]}]}`, genai.EMEDIATYPE, "declared image/png but the bytes are image/gif"},
		{"bmp", `{"messages":[{"role":"user","content":[` + imageBlock("image/bmp", []byte("BM")) + `]}]}`, genai.EMEDIATYPE, `media_type: "image/bmp"`},
		{"url source", `{"messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"http://x"}}]}]}`, genai.EINVALID, `source.type: must be "base64"`},
		{"too large image", `{"messages":[{"role":"user","content":[` + imageBlock("image/png", big) + `]}]}`, genai.ETOOLARGE, "over the limit of 3750000"},
		{"too many images", `{"messages":[{"role":"user","content":[` + many + `{"type":"text","text":"x"}]}]}`, genai.ETOOLARGE, "21 images, at most 20"},
		{"image from assistant", `{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":[` + imageBlock("image/png", pngBytes) + `]}]}`, genai.EINVALID, "images are allowed only in user messages"},
		{"max_tokens zero", `{"messages":[{"role":"user","content":"a"}],"max_tokens":0}`, genai.EINVALID, "max_tokens: must be a whole number"},
		{"max_tokens fraction", `{"messages":[{"role":"user","content":"a"}],"max_tokens":1.5}`, genai.EINVALID, "max_tokens"},
		{"temperature", `{"messages":[{"role":"user","content":"a"}],"temperature":2.5}`, genai.EINVALID, "temperature: must be from 0 to 2"},
		{"temperature type", `{"messages":[{"role":"user","content":"a"}],"temperature":"hot"}`, genai.EINVALID, "temperature: expected a number"},
		{"bad model", `{"model":"gpt 4\n","messages":[{"role":"user","content":"a"}]}`, genai.EINVALID, "model:"},
		{"invalid utf8", "{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}", genai.EINVALID, "body: not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := genai.ParseChatRequest([]byte(tc.body))
			if err == nil {
				t.Fatal("accepted; want an error")
			}
			var e *genai.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *genai.Error: %v", err, err)
			}
			if e.Code != tc.code || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("got %s %q; want %s containing %q", e.Code, e.Message, tc.code, tc.msg)
			}
		})
	}
}

func TestSniffImage(t *testing.T) {
	for want, data := range map[string][]byte{
		"png": pngBytes, "jpeg": []byte("\xff\xd8\xff\xe0"), "gif": []byte("GIF87a"),
		"webp": []byte("RIFF\x00\x00\x00\x00WEBPVP8 "), "": []byte("RIFF\x00\x00\x00\x00AVI "),
	} {
		if got := genai.SniffImage(data); got != want {
			t.Errorf("SniffImage(%q) = %q, want %q", data, got, want)
		}
	}
}

// FuzzParseChatRequest checks that no input panics the decoder, that every rejection is
// an *Error with a known code and a message, and that every accepted request validates.
func FuzzParseChatRequest(f *testing.F) {
	f.Add([]byte(`{"messages":[{"role":"user","content":"hi"}]}`))
	f.Add([]byte(`{"system":[{"type":"text","text":"s"}],"messages":[{"role":"user","content":[{"type":"text","text":"a"},` + imageBlock("image/png", pngBytes) + `]}],"max_tokens":5,"temperature":0.1}`))
	f.Add([]byte(`{"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/gif","data":"R0lGODlh"}}]}]}`))
	f.Add([]byte(`{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"}],"stream":false}`))
	f.Add([]byte(`{"messages":null,"max_tokens":1e309}`))
	f.Add([]byte(toolRoundTrip(`{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"21"},` + imageBlock("image/png", pngBytes) + `],"is_error":true}`)))
	f.Add([]byte(toolRoundTrip(`{"type":"tool_result","tool_use_id":"toolu_1","content":"x"}`)))
	f.Add([]byte(`{"tools":[{"name":"f","description":"d","input_schema":{"type":"object","properties":{}}}],"tool_choice":{"type":"tool","name":"f"},"messages":[{"role":"user","content":"a"}]}`))
	f.Add([]byte(`{"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"none"},"messages":[{"role":"user","content":"a"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{"a":[1,{"b":null}]}}]}]}`))
	known := map[string]bool{genai.EINVALID: true, genai.ETOOLARGE: true, genai.EMEDIATYPE: true}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, _, err := genai.ParseChatRequest(data)
		if err != nil {
			var e *genai.Error
			if !errors.As(err, &e) || !known[e.Code] || e.Message == "" {
				t.Fatalf("rejection is not a client error: %#v", err)
			}
			return
		}
		if err := req.Validate(); err != nil {
			t.Fatalf("accepted request does not validate: %v", err)
		}
	})
}

// What one provider refuses another takes: the domain's rules are the ones that hold for
// every provider, and Bedrock's narrower ones are Bedrock's (bedrock/validate.go).
func TestParseChatRequestAcceptsWhatSomeProviderTakes(t *testing.T) {
	for name, body := range map[string]string{
		"temperature 1.5 (OpenAI's range is 0-2)": `{"messages":[{"role":"user","content":"a"}],"temperature":1.5}`,
		"two user turns in a row":                 `{"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}`,
		"a model id with @":                       `{"model":"gpt-4o@2024","messages":[{"role":"user","content":"a"}]}`,
		"a conversation starting with assistant":  `{"messages":[{"role":"assistant","content":"hello"},{"role":"user","content":"b"}]}`,
	} {
		if _, _, err := genai.ParseChatRequest([]byte(body)); err != nil {
			t.Errorf("%s: refused: %v", name, err)
		}
	}
}

// A field the server does not implement is refused, naming it, never dropped.
func TestParseChatRequestRefusesUnknownFields(t *testing.T) {
	for body, want := range map[string]string{
		`{"messages":[{"role":"user","content":"a"}],"tools":[{"name":"x","input_schema":{"type":"object"},"input_examples":[]}]}`:                                                                   "tools[0].input_examples: not supported",
		`{"messages":[{"role":"user","content":[{"type":"text","text":"a","id":"x"}]}]}`:                                                                                                             "messages[0].content[0].id: not supported",
		`{"messages":[{"role":"user","content":"a"}],"top_k":5}`:                                                                                                                                     "top_k: not supported",
		`{"messages":[{"role":"user","content":"a","name":"bob"}]}`:                                                                                                                                  "messages[0].name: not supported",
		`{"messages":[{"role":"user","content":[{"type":"text","text":"a","citations":[]}]}]}`:                                                                                                       "messages[0].content[0].citations: not supported",
		`{"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"` + base64.StdEncoding.EncodeToString(pngBytes) + `","file_id":"f"}}]}]}`: "messages[0].content[0].source.file_id: not supported",
	} {
		_, _, err := genai.ParseChatRequest([]byte(body))
		if genai.ErrorCode(err) != genai.EINVALID || !strings.Contains(genai.ErrorMessage(err), want) {
			t.Errorf("%s: %v, want EINVALID %q", body, err, want)
		}
	}
}
