package openai

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestTransportSpeaksHTTP2WhereOffered checks that the default transport, whose dialer
// is its own, still takes HTTP/2 from a TLS endpoint that offers it, as OpenAI's does:
// net/http turns HTTP/2 off for a transport with a custom dialer unless told not to.
func TestTransportSpeaksHTTP2WhereOffered(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.Proto))
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	tr := newTransport()
	tr.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone() // trusts srv
	res, err := (&http.Client{Transport: tr}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.ProtoMajor != 2 {
		t.Errorf("protocol %s, want HTTP/2", res.Proto)
	}
}
