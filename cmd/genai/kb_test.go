package main

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"genai/bedrock/agentruntimetest"
)

// The local knowledge base as the binary wires it: upload, retrieve, and an extractive
// answer with citations when no model is configured.
func TestKnowledgeBaseLocalEndToEnd(t *testing.T) {
	isolateAWS(t)
	_, base := start(t, map[string]string{})
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "tides.md")
	fw.Write([]byte("# Tides\n\nThe moon's gravity pulls the oceans, raising two tides a day.\n\n## Spring tides\n\nWhen sun and moon align, tides are highest.\n"))
	mw.Close()
	resp, err := http.Post(base+"/api/kb/documents", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || !strings.Contains(string(b), `"uri":"tides.md"`) {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	resp, _ = http.Post(base+"/api/kb/retrieve", "application/json", strings.NewReader(`{"query":"why are there tides","k":2}`))
	var got struct {
		Results []struct{ Text, Title string }
	}
	json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if len(got.Results) == 0 || !strings.Contains(got.Results[0].Text, "moon") {
		t.Fatalf("retrieve: %+v", got)
	}
	resp, _ = http.Post(base+"/api/kb/answer", "application/json", strings.NewReader(`{"query":"what causes the highest tides?","stream":false}`))
	var ans struct {
		Answer    string
		Citations []struct{ N int }
		SessionID string `json:"session_id"`
	}
	json.NewDecoder(resp.Body).Decode(&ans)
	resp.Body.Close()
	if !strings.Contains(ans.Answer, "[1]") || len(ans.Citations) == 0 || ans.SessionID == "" || !strings.Contains(ans.Answer, "Extractive") {
		t.Errorf("extractive answer: %+v", ans)
	}
}

// Managed mode: the same routes answer from an Amazon Bedrock Knowledge Base, reached
// through the SDK at AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME.
func TestKnowledgeBaseBedrockEndToEnd(t *testing.T) {
	isolateAWS(t)
	up := agentruntimetest.NewServer(agentruntimetest.Options{KnowledgeBaseID: "KB12345678", Passages: []agentruntimetest.Passage{
		{Text: "Bedrock Knowledge Bases connect models to your data.", Location: agentruntimetest.Location{URI: "s3://docs/bedrock.md"}, Score: 0.9},
	}})
	defer up.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME", up.URL)
	_, base := start(t, map[string]string{"GENAI_KB": "bedrock", "GENAI_BEDROCK_KB_ID": "KB12345678", "GENAI_PROVIDER": "none",
		"GENAI_BEDROCK_KB_MODEL_ARN": "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"})
	resp, err := http.Post(base+"/knowledge-base-retrieve", "application/json", strings.NewReader(`{"messages":[{"role":"user","content":"what are knowledge bases"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "connect models to your data") || !strings.Contains(string(b), "s3://docs/bedrock.md") {
		t.Errorf("workshop retrieve in managed mode: %d %s", resp.StatusCode, b)
	}
	resp, _ = http.Post(base+"/api/kb/documents", "application/json", strings.NewReader(`{"title":"x","text":"y"}`))
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "Bedrock") {
		t.Errorf("uploads in managed mode must be refused naming Bedrock: %d %s", resp.StatusCode, b)
	}
}
