package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// notesStored returns how many notes the server lists.
func notesStored(t *testing.T, base string) int {
	t.Helper()
	var list struct{ Notes []json.RawMessage }
	getJSON(t, base+"/api/notes?limit=100", &list)
	return len(list.Notes)
}

func request(t *testing.T, method, url, contentType, body string, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// The findings, with the server on its default (loopback, no keys): another
// site's page cannot store a note, and a rebound name cannot reach the API.
func TestDefaultServerRefusesOtherSitesAndForeignHosts(t *testing.T) {
	isolateAWS(t)
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "none"})
	note := `{"title":"pwned","text":"planted by another site"}`
	for _, ct := range []string{"text/plain", "application/json"} {
		status, body := request(t, "POST", base+"/api/notes", ct, note, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
		if status != 403 {
			t.Errorf("cross-site note as %s: %d %s, want 403", ct, status, body)
		}
	}
	status, body := request(t, "POST", base+"/api/notes", "application/json", note, "Host", "attacker.example:3000")
	if status != 403 || !strings.Contains(body, "attacker.example") || !strings.Contains(body, "GENAI_ALLOWED_HOSTS") {
		t.Errorf("foreign Host: %d %s, want 403 naming it and GENAI_ALLOWED_HOSTS", status, body)
	}
	if n := notesStored(t, base); n != 0 {
		t.Fatalf("%d notes stored by refused requests", n)
	}
	// The UI's own request, as a browser sends it, works.
	status, body = request(t, "POST", base+"/api/notes", "application/json", `{"title":"mine","text":"from the notes page"}`,
		"Origin", base, "Sec-Fetch-Site", "same-origin")
	if status != 201 {
		t.Errorf("same-origin note: %d %s, want 201", status, body)
	}
}

func TestAllowedHostsAdmitsAName(t *testing.T) {
	isolateAWS(t)
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "none", "GENAI_ALLOWED_HOSTS": "genai.lan"})
	if status, body := request(t, "GET", base+"/api/config", "", "", "Host", "genai.lan:3000"); status != 200 {
		t.Errorf("GENAI_ALLOWED_HOSTS=genai.lan, Host genai.lan:3000: %d %s", status, body)
	}
	if status, _ := request(t, "GET", base+"/api/config", "", "", "Host", "other.lan:3000"); status != 403 {
		t.Errorf("Host other.lan: %d, want 403", status)
	}
}

func TestCORSOriginsSettingRules(t *testing.T) {
	isolateAWS(t)
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"GENAI_CORS_ORIGINS": "*"}, "GENAI_API_KEYS"},
		{map[string]string{"GENAI_CORS_ORIGINS": "app.example.com"}, "GENAI_CORS_ORIGINS"},
	} {
		m := NewMain()
		err := m.ParseFlags(nil, func(k string) string { return tc.env[k] })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error naming %s", tc.env, err, tc.want)
		}
	}
}
