package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"genai"
	"genai/bedrock"
	"genai/bedrock/bedrocktest"
	"genai/server"
	"genai/sqlite"
)

// responsesHTTP serves genai on the Bedrock test server with a real responses store.
func responsesHTTP(t *testing.T) (string, *sqlite.Responses) {
	t.Helper()
	up := bedrocktest.NewServer(bedrocktest.Options{})
	t.Cleanup(up.Close)
	chat := bedrock.New(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(up.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")}, bedrock.Options{})
	store, err := sqlite.OpenResponses(context.Background(), filepath.Join(t.TempDir(), "responses.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ts := httptest.NewServer(server.New(server.Options{Chat: chat, Provider: "bedrock", ChatModel: bedrock.DefaultModel, Responses: store}))
	t.Cleanup(ts.Close)
	return ts.URL, store
}

func postResponse(t *testing.T, base, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(base+"/v1/responses", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A chain of previous_response_id stops at genai.MaxResponseChain, and a conversation
// over genai.MaxStoredResponseBytes is refused before the model is called unless it is
// not to be stored.
func TestResponsesBounds(t *testing.T) {
	base, store := responsesHTTP(t)
	last := &genai.StoredResponse{ID: "resp_last", CreatedAt: time.Now(), Depth: genai.MaxResponseChain,
		Messages: []genai.Message{genai.TextMessage(genai.RoleUser, "hi"), genai.TextMessage(genai.RoleAssistant, "hello")}, Body: []byte(`{}`)}
	if err := store.PutResponse(context.Background(), last); err != nil {
		t.Fatal(err)
	}
	status, body := postResponse(t, base, `{"input":"more","previous_response_id":"resp_last"}`)
	if status != 400 || !strings.Contains(body, `"param":"previous_response_id"`) || !strings.Contains(body, "limit") {
		t.Errorf("past the chain limit: %d %s", status, body)
	}
	last.ID, last.Depth = "resp_before_last", genai.MaxResponseChain-1
	store.PutResponse(context.Background(), last)
	if status, body := postResponse(t, base, `{"input":"more","previous_response_id":"resp_before_last"}`); status != 200 || !strings.Contains(body, "You said: more") {
		t.Errorf("the last response of a chain: %d %s", status, body)
	}

	// 8 images of 2.5 MB: under the body limit, over the stored conversation's.
	img := `{"type":"input_image","image_url":"data:image/png;base64,iVBORw0KGgo` + strings.Repeat("A", 3_400_001) + `"}`
	big := `{"role":"user","content":[` + strings.TrimSuffix(strings.Repeat(img+",", 8), ",") + `]}`
	status, body = postResponse(t, base, `{"input":[`+big+`]}`)
	if status != 413 || !strings.Contains(body, `"param":"input"`) || !strings.Contains(body, "store: false") {
		t.Errorf("an oversized conversation to store: %d %.300s", status, body)
	}
	if status, body := postResponse(t, base, `{"input":[`+big+`],"store":false}`); status != 200 {
		t.Errorf("the same, not stored: %d %.300s", status, body)
	}
}
